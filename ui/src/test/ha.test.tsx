import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { QueryClientProvider } from '@tanstack/react-query'
import { MemoryRouter } from 'react-router'
import { createQueryClient } from '../lib/queryClient'
import { HaSetting, haText } from '../components/vm/HaSetting'
import { operationLabel } from '../lib/format'
import type { Vm } from '../lib/api/types'

const VM: Vm = {
  id: 'vm-1',
  name: 'db-01',
  state: 'running',
  host_id: 'h1',
  host_name: 'sim-1',
  vcpus: 2,
  memory_mib: 2048,
  description: null,
  error: null,
  task_id: null,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  seq: 3,
  ha_enabled: false,
  ha_priority: 0,
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json' } })
let posts: { path: string; body: unknown }[] = []
let answer: () => Response

beforeEach(() => {
  posts = []
  answer = () => json({ vm_id: 'vm-1', task_id: 't9', seq: 11 }, 202)
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string, init?: RequestInit) => {
      const url = new URL(input, 'http://lq.test')
      if (init?.method === 'POST') {
        posts.push({ path: url.pathname, body: JSON.parse(init.body as string) })
        return answer()
      }
      return json({ items: [], next_cursor: null, total: 0 })
    }),
  )
})
afterEach(() => vi.unstubAllGlobals())

function renderHa(vm: Vm) {
  return render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter>
        <HaSetting vm={vm} />
      </MemoryRouter>
    </QueryClientProvider>,
  )
}

describe('haText', () => {
  it('says on or off and the priority', () => {
    expect(haText({ ha_enabled: false, ha_priority: 10 })).toBe('Off')
    expect(haText({ ha_enabled: null })).toBe('Off')
    expect(haText({ ha_enabled: true, ha_priority: 10 })).toBe('On · priority 10')
    expect(haText({ ha_enabled: true, ha_priority: 0 })).toBe('On · cluster default priority')
  })

  it('names the HA task with the acronym', () => {
    expect(operationLabel('vm.set_ha')).toBe('Set HA VM')
    expect(operationLabel('vm.ha_restart')).toBe('HA restart VM')
    expect(operationLabel('vm.create')).toBe('Create VM')
    expect(operationLabel('vm.shadow_copy')).toBe('Shadow copy VM')
  })
})

describe('HaSetting', () => {
  it('turns HA on with a priority through set-ha', async () => {
    const user = userEvent.setup()
    renderHa(VM)
    expect(screen.getByTestId('vm-ha')).toHaveTextContent('Off')
    await user.click(screen.getByRole('button', { name: 'Edit high availability' }))
    const dialog = screen.getByRole('dialog')
    await user.click(within(dialog).getByRole('checkbox'))
    const prio = within(dialog).getByRole('spinbutton', { name: /restart priority/i })
    await user.clear(prio)
    await user.type(prio, '2000')
    await user.click(within(dialog).getByRole('button', { name: 'Save' }))
    expect(prio).toHaveAttribute('aria-invalid', 'true')
    expect(posts).toHaveLength(0)
    await user.clear(prio)
    await user.type(prio, '10')
    await user.click(within(dialog).getByRole('button', { name: 'Save' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument())
    expect(posts).toEqual([{ path: '/api/v1/vms/vm-1/actions/set-ha', body: { enabled: true, priority: 10 } }])
  })

  it('sends nothing when nothing changed, and shows a refusal in the dialog', async () => {
    const user = userEvent.setup()
    renderHa({ ...VM, ha_enabled: true, ha_priority: 5 })
    expect(screen.getByTestId('vm-ha')).toHaveTextContent('On · priority 5')
    await user.click(screen.getByRole('button', { name: 'Edit high availability' }))
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Save' }))
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument()
    expect(posts).toHaveLength(0)

    answer = () => json({ type: 'urn:limiquantix:problem:invalid-state', title: 'Not in a state for that', status: 409, detail: 'db-01 is a template: it never runs' }, 409)
    await user.click(screen.getByRole('button', { name: 'Edit high availability' }))
    const dialog = screen.getByRole('dialog')
    await user.click(within(dialog).getByRole('checkbox'))
    await user.click(within(dialog).getByRole('button', { name: 'Save' }))
    expect(await within(dialog).findByTestId('problem')).toHaveTextContent('it never runs')
    expect(posts).toEqual([{ path: '/api/v1/vms/vm-1/actions/set-ha', body: { enabled: false, priority: 5 } }])
  })

  it('offers no editing on a template', () => {
    renderHa({ ...VM, template: true })
    expect(screen.getByTestId('vm-ha')).toHaveTextContent('Off')
    expect(screen.queryByRole('button', { name: 'Edit high availability' })).not.toBeInTheDocument()
  })
})
