import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { QueryClientProvider } from '@tanstack/react-query'
import { MemoryRouter, Route, Routes } from 'react-router'
import { ApiClient } from '../lib/api/client'
import { loginPath, useSession } from '../lib/auth'
import { createQueryClient } from '../lib/queryClient'
import Login from '../pages/Login'

function json(body: unknown, status = 200): Response {
  const ctype = status >= 400 ? 'application/problem+json' : 'application/json'
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': ctype } })
}

const tokens = (n: number) => ({
  access_token: `access-${n}`,
  refresh_token: `refresh-${n}`,
  expires_in: 900,
  token_type: 'Bearer',
  user: { id: 'u1', username: 'ann' },
})

beforeEach(() => {
  useSession.getState().set({ accessToken: 'access-1', refreshToken: 'refresh-1', expiresAt: Date.now() + 900_000, userId: 'u1', username: 'ann' })
})
afterEach(() => {
  vi.unstubAllGlobals()
  useSession.getState().set(null)
})

describe('the API client and the session', () => {
  it('sends the bearer token, refreshes once on 401 and retries', async () => {
    const seen: string[] = []
    const fetchImpl = vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
      const auth = new Headers(init?.headers).get('Authorization') ?? ''
      seen.push(`${String(input)} ${auth}`)
      return auth === 'Bearer access-2' ? json({ items: [], next_cursor: null, total: 0 }) : json({ type: 'urn:limiquantix:problem:unauthorized', status: 401 }, 401)
    })
    vi.stubGlobal('fetch', vi.fn(async () => json(tokens(2))))
    const client = new ApiClient({ fetch: fetchImpl as unknown as typeof fetch })
    await client.get('/vms')
    expect(seen).toEqual(['/api/v1/vms Bearer access-1', '/api/v1/vms Bearer access-2'])
    expect(useSession.getState().session?.refreshToken).toBe('refresh-2')
  })

  it('refreshes a token about to expire before sending, and only once for parallel calls', async () => {
    useSession.getState().set({ ...useSession.getState().session!, expiresAt: Date.now() + 1000 })
    const refresh = vi.fn(async () => json(tokens(3)))
    vi.stubGlobal('fetch', refresh)
    const sent: (string | null)[] = []
    const fetchImpl = vi.fn(async (_url: string, init?: RequestInit) => {
      sent.push(new Headers(init?.headers).get('Authorization'))
      return json({})
    })
    const client = new ApiClient({ fetch: fetchImpl as unknown as typeof fetch })
    await Promise.all([client.get('/vms'), client.get('/hosts')])
    expect(refresh).toHaveBeenCalledTimes(1)
    expect(sent).toEqual(['Bearer access-3', 'Bearer access-3'])
  })

  it('remembers the page on the way to the login page', () => {
    expect(loginPath('/vms/42?tab=events', true)).toBe('/login?next=%2Fvms%2F42%3Ftab%3Devents&expired=1')
    expect(loginPath('/')).toBe('/login')
  })
})

describe('the login page', () => {
  it('explains a lockout and signs in', async () => {
    useSession.getState().set(null)
    let locked = true
    vi.stubGlobal(
      'fetch',
      vi.fn(async () =>
        locked
          ? json({ type: 'urn:limiquantix:problem:too-many-attempts', status: 429, title: 'Too many', retry_after: 42 }, 429)
          : json(tokens(1)),
      ),
    )
    const user = userEvent.setup()
    render(
      <QueryClientProvider client={createQueryClient()}>
        <MemoryRouter initialEntries={['/login?next=/vms']}>
          <Routes>
            <Route path="/login" element={<Login />} />
            <Route path="/vms" element={<p>VM list</p>} />
          </Routes>
        </MemoryRouter>
      </QueryClientProvider>,
    )
    await user.type(screen.getByLabelText('User name'), 'ann')
    await user.type(screen.getByLabelText('Password'), 'secret-pw')
    await user.click(screen.getByRole('button', { name: 'Sign in' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('Try again in 42 seconds')
    locked = false
    await user.click(screen.getByRole('button', { name: 'Sign in' }))
    expect(await screen.findByText('VM list')).toBeInTheDocument()
    expect(useSession.getState().session?.username).toBe('ann')
  })
})
