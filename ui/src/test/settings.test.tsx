import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { QueryClientProvider } from '@tanstack/react-query'
import { MemoryRouter } from 'react-router'
import { useSession } from '../lib/auth'
import { createQueryClient } from '../lib/queryClient'
import { parseSetting, type FleetSetting } from '../lib/api/settings'
import Settings from '../pages/Settings'

function json(body: unknown, status = 200, type = 'application/json'): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': type } })
}

function setting(p: Partial<FleetSetting> & Pick<FleetSetting, 'key' | 'group' | 'type' | 'value'>): FleetSetting {
  return {
    label: p.key, help: '', default: p.value, changed: false, changed_by: null, changed_at: null,
    minimum: null, maximum: null, choices: [], unit: '', process_setting: null, ...p,
  }
}

const items: FleetSetting[] = [
  setting({ key: 'placement_strategy', label: 'Placement strategy', group: 'general', type: 'choice', value: 'pack', default: 'spread', choices: ['spread', 'pack'], changed: true, changed_by: 'user:ann', changed_at: '2026-01-01T00:00:00Z' }),
  setting({ key: 'default_shutdown_timeout_s', label: 'Default graceful shutdown timeout', group: 'general', type: 'int', value: 120, minimum: 1, maximum: 3600, unit: 's' }),
  setting({ key: 'alert_email_to', label: 'Alert e-mail recipients', group: 'notifications', type: 'emails', value: '' }),
]

function me(permissions: string[]) {
  return { id: 'u1', username: 'ann', via: 'session', permissions, cluster_permissions: {}, bindings: [] }
}

type Sent = { method: string; url: string; body: unknown }

function stub(permissions: string[], patch: (body: Record<string, unknown>) => Response): Sent[] {
  const sent: Sent[] = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string, init?: RequestInit) => {
      const url = String(input)
      const method = init?.method ?? 'GET'
      const body = init?.body ? JSON.parse(String(init.body)) : undefined
      sent.push({ method, url, body })
      if (url.includes('/auth/me')) return json(me(permissions))
      if (method === 'PATCH') return patch(body)
      if (url.includes('/settings/process')) return json({ items: [{ name: 'http_port', value: 8443, source: 'env LQ_HTTP_PORT', secret: false }, { name: 'smtp_password', value: '••••••', source: 'toml /etc/lq.toml', secret: true }] })
      if (url.includes('/events')) return json({ items: [], next_cursor: null, total: 0 })
      if (url.includes('/settings')) return json({ items, seq: 7 })
      return json({ items: [], next_cursor: null, total: 0 })
    }),
  )
  return sent
}

function renderAt(path: string) {
  render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter initialEntries={[path]}>
        <Settings />
      </MemoryRouter>
    </QueryClientProvider>,
  )
}

beforeEach(() => {
  useSession.getState().set({ accessToken: 'a', refreshToken: 'r', expiresAt: Date.now() + 900_000, userId: 'u1', username: 'ann' })
})
afterEach(() => {
  vi.unstubAllGlobals()
  useSession.getState().set(null)
})

describe('Settings → fleet settings', () => {
  it('shows values and who changed them, validates, and saves only what was edited', async () => {
    const sent = stub(['settings.read', 'settings.manage'], (body) =>
      json({ items: items.map((s) => (s.key in body ? { ...s, value: body[s.key], changed: true, changed_by: 'user:ann' } : s)), seq: 8, changed_keys: Object.keys(body) }),
    )
    renderAt('/settings')
    const timeout = await screen.findByLabelText('Default graceful shutdown timeout')
    expect(screen.getByLabelText('Placement strategy')).toHaveValue('pack')
    expect(screen.getByTestId('setting-placement_strategy-origin')).toHaveTextContent('Changed by user:ann')
    expect(screen.getByTestId('setting-default_shutdown_timeout_s-origin')).toHaveTextContent('Default')
    const save = screen.getByRole('button', { name: 'Save' })
    expect(save).toBeDisabled()

    const user = userEvent.setup()
    await user.clear(timeout)
    await user.type(timeout, '0')
    expect(screen.getByRole('alert')).toHaveTextContent('At least 1')
    expect(save).toBeDisabled()
    await user.clear(timeout)
    await user.type(timeout, '30')
    expect(save).toBeEnabled()
    await user.click(save)
    await vi.waitFor(() => expect(sent.some((s) => s.method === 'PATCH')).toBe(true))
    const patch = sent.find((s) => s.method === 'PATCH')
    expect(patch?.url).toContain('/api/v1/settings')
    expect(patch?.body).toEqual({ default_shutdown_timeout_s: 30 })
    await vi.waitFor(() => expect(screen.getByTestId('setting-default_shutdown_timeout_s-origin')).toHaveTextContent('Changed by user:ann'))
    expect(screen.getByLabelText('Default graceful shutdown timeout')).toHaveValue('30')
  })

  it('shows the problem the server answers and keeps the edit', async () => {
    stub(['settings.read', 'settings.manage'], () =>
      json({ type: 'urn:limiquantix:problem:invalid-setting', title: 'The request cannot be carried out', status: 422, detail: 'alert_email_to: nope' }, 422, 'application/problem+json'),
    )
    renderAt('/settings?tab=notifications')
    const field = await screen.findByLabelText('Alert e-mail recipients')
    const user = userEvent.setup()
    await user.type(field, 'ops@example.com')
    await user.click(screen.getByRole('button', { name: 'Save' }))
    const problem = await screen.findByTestId('problem')
    expect(problem).toHaveTextContent('alert_email_to: nope')
    expect(problem).toHaveTextContent('422 invalid-setting')
    expect(field).toHaveValue('ops@example.com')
  })

  it('is read-only without settings.manage', async () => {
    stub(['settings.read'], () => json({}, 500))
    renderAt('/settings')
    const field = await screen.findByLabelText('Default graceful shutdown timeout')
    expect(field).toHaveAttribute('readonly')
    expect(screen.getByLabelText('Placement strategy')).toBeDisabled()
    expect(screen.queryByRole('button', { name: 'Save' })).toBeNull()
    expect(screen.getByText(/needs the permission settings.manage/)).toBeInTheDocument()
  })

  it('lists process settings with their sources under Advanced', async () => {
    stub(['settings.read'], () => json({}, 500))
    renderAt('/settings?tab=advanced')
    const table = await screen.findByRole('table', { name: 'Process settings' })
    const port = within(table).getByText('http_port').closest('tr')
    expect(port).toHaveTextContent('8443')
    expect(port).toHaveTextContent('env LQ_HTTP_PORT')
    expect(within(table).getByText('smtp_password').closest('tr')).toHaveTextContent('••••••')
  })
})

describe('parseSetting', () => {
  const n = setting({ key: 'n', group: 'general', type: 'int', value: 1, minimum: 1, maximum: 10 })
  it('types and bounds values', () => {
    expect(parseSetting(n, ' 5 ')).toEqual({ value: 5 })
    expect(parseSetting(n, '5.5')).toEqual({ error: 'A whole number is required' })
    expect(parseSetting(n, '11')).toEqual({ error: 'At most 10' })
    expect(parseSetting(n, 'x')).toEqual({ error: 'Not a number' })
    expect(parseSetting({ ...n, type: 'float' }, '2.5')).toEqual({ value: 2.5 })
    const mail = setting({ key: 'm', group: 'notifications', type: 'emails', value: '' })
    expect(parseSetting(mail, '')).toEqual({ value: '' })
    expect(parseSetting(mail, 'a@b.c, nope')).toEqual({ error: 'nope is not an e-mail address' })
    const choice = setting({ key: 'c', group: 'general', type: 'choice', value: 'a', choices: ['a', 'b'] })
    expect(parseSetting(choice, 'z')).toEqual({ error: 'One of a, b' })
  })
})
