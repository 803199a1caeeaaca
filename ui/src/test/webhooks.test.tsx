import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { QueryClientProvider } from '@tanstack/react-query'
import { MemoryRouter } from 'react-router'
import { useSession } from '../lib/auth'
import { createQueryClient } from '../lib/queryClient'
import Webhooks from '../pages/Webhooks'

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

const hook = {
  id: 'w1',
  name: 'ops',
  url: 'https://hooks.example/lq',
  kinds: ['vm'],
  types: [],
  enabled: true,
  created_at: '2026-01-01T00:00:00Z',
  created_by: 'user:ann',
  updated_at: '2026-01-01T00:00:00Z',
  seq: 3,
  deliveries: { pending: 1, delivered: 7, failed: 2, cancelled: 0, last_finished_at: null },
  failures: 2,
}

const delivery = {
  id: 'd1',
  event_id: 'e1',
  event_type: 'vm.started',
  aggregate_kind: 'vm',
  aggregate_id: 'v1',
  seq: 9,
  status: 'failed',
  attempts: 8,
  response_code: 500,
  error: 'HTTP 500',
  created_at: '2026-01-01T00:00:00Z',
  next_attempt_at: null,
  finished_at: '2026-01-01T00:02:00Z',
  attempt_log: [],
}

beforeEach(() => {
  useSession.getState().set({ accessToken: 'a', refreshToken: 'r', expiresAt: Date.now() + 900_000, userId: 'u1', username: 'ann' })
})
afterEach(() => {
  vi.unstubAllGlobals()
  useSession.getState().set(null)
})

describe('Settings → Webhooks', () => {
  it('lists subscriptions, shows a new secret once and opens the delivery log', async () => {
    const sent: { method: string; url: string; body: unknown }[] = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: string, init?: RequestInit) => {
        const url = String(input)
        sent.push({ method: init?.method ?? 'GET', url, body: init?.body ? JSON.parse(String(init.body)) : undefined })
        if (url.includes('/auth/me')) return json({ id: 'u1', username: 'ann', via: 'session', permissions: ['webhook.manage'], cluster_permissions: {}, bindings: [] })
        if (init?.method === 'POST') return json({ webhook_id: 'w2', secret: 'whsec_abc', seq: 4 }, 201)
        if (url.includes('/deliveries')) return json({ items: [delivery], next_cursor: null })
        return json({ items: [hook], total: 1, next_cursor: null })
      }),
    )
    render(
      <QueryClientProvider client={createQueryClient()}>
        <MemoryRouter>
          <Webhooks />
        </MemoryRouter>
      </QueryClientProvider>,
    )
    const table = await screen.findByRole('table', { name: 'Webhooks' })
    expect(within(table).getByText('https://hooks.example/lq')).toBeInTheDocument()
    expect(within(table).getByText('kind vm')).toBeInTheDocument()

    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Webhook name'), 'audit')
    await user.type(screen.getByLabelText('Webhook URL'), 'https://audit.example/in')
    await user.type(screen.getByLabelText('Webhook types'), 'vm.*, task.failed')
    await user.click(screen.getByRole('button', { name: 'Subscribe' }))
    expect(await screen.findByTestId('webhook-secret')).toHaveTextContent('whsec_abc')
    expect(sent.find((s) => s.method === 'POST')?.body).toEqual({
      name: 'audit',
      url: 'https://audit.example/in',
      kinds: [],
      types: ['vm.*', 'task.failed'],
    })

    await user.click(within(table).getByRole('button', { name: 'Deliveries' }))
    const log = await screen.findByRole('table', { name: 'Deliveries' })
    expect(within(log).getByText('vm.started')).toBeInTheDocument()
    expect(within(log).getByText('HTTP 500')).toBeInTheDocument()
  })
})
