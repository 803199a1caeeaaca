import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { QueryClientProvider } from '@tanstack/react-query'
import { MemoryRouter } from 'react-router'
import { useSession } from '../lib/auth'
import { createQueryClient } from '../lib/queryClient'
import { VmActionDialog } from '../components/vm/VmActionDialogs'
import type { Vm } from '../lib/api/types'

const vm = {
  id: 'vm-1', name: 'web-01', state: 'running', host_id: 'h1', host_name: 'sim-1', vcpus: 1, memory_mib: 512,
  description: '', error: null, task_id: null, created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z', seq: 1,
} as Vm

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

function stub(permissions: string[], fleetTimeout: number): { body: unknown }[] {
  const sent: { body: unknown }[] = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string, init?: RequestInit) => {
      const url = new URL(input, 'http://lq.test')
      if (url.pathname === '/api/v1/auth/me') return json({ id: 'u1', username: 'ann', via: 'session', permissions, cluster_permissions: {}, bindings: [] })
      if (url.pathname === '/api/v1/settings') {
        if (!permissions.includes('settings.read')) return json({ type: 'urn:limiquantix:problem:forbidden', title: 'Forbidden', status: 403 }, 403)
        return json({ items: [{ key: 'default_shutdown_timeout_s', group: 'general', type: 'int', label: 'x', help: '', value: fleetTimeout, default: 120, changed: true, changed_by: 'user:ann', changed_at: null, minimum: 1, maximum: 3600, choices: [], unit: 's', process_setting: null }], seq: 3 })
      }
      if (url.pathname.endsWith('/actions/shutdown')) {
        sent.push({ body: JSON.parse(String(init?.body)) })
        return json({ vm_id: 'vm-1', task_id: 't1', seq: 9 }, 202)
      }
      return json({ items: [], next_cursor: null, total: 0 })
    }),
  )
  return sent
}

function open() {
  render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter>
        <VmActionDialog kind="shutdown" vm={vm} onClose={() => {}} />
      </MemoryRouter>
    </QueryClientProvider>,
  )
}

beforeEach(() => useSession.getState().set({ accessToken: 'a', refreshToken: 'r', expiresAt: Date.now() + 900_000, userId: 'u1', username: 'ann' }))
afterEach(() => {
  vi.unstubAllGlobals()
  useSession.getState().set(null)
})

describe('Shut down dialog', () => {
  it('starts at the fleet default timeout and sends what the user chose', async () => {
    const sent = stub(['vm.power', 'settings.read'], 45)
    open()
    const field = screen.getByRole('spinbutton', { name: 'Timeout (seconds)' })
    await waitFor(() => expect(field).toHaveValue(45))
    await userEvent.clear(field)
    await userEvent.type(field, '300')
    await userEvent.click(screen.getByRole('button', { name: 'Shut down' }))
    await waitFor(() => expect(sent).toEqual([{ body: { timeout_s: 300, force_on_timeout: false } }]))
  })

  it('without settings.read leaves the timeout to the server', async () => {
    const sent = stub(['vm.power'], 45)
    open()
    await waitFor(() => expect(screen.getByText(/empty: the fleet default/)).toBeInTheDocument())
    expect(screen.getByRole('spinbutton', { name: 'Timeout (seconds)' })).toHaveValue(null)
    await userEvent.click(screen.getByRole('button', { name: 'Shut down' }))
    await waitFor(() => expect(sent).toEqual([{ body: { force_on_timeout: false } }]))
  })
})
