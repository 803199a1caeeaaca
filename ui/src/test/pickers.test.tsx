import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { QueryClientProvider } from '@tanstack/react-query'
import { MemoryRouter } from 'react-router'
import { createQueryClient } from '../lib/queryClient'
import { NetworkTab } from '../components/vm/NetworkTab'
import { DisksTab } from '../components/vm/DisksTab'
import type { Vm } from '../lib/api/types'

const VM: Vm = {
  id: 'vm-1',
  name: 'web-01',
  state: 'stopped',
  host_id: 'h1',
  host_name: 'sim-1',
  vcpus: 1,
  memory_mib: 512,
  description: null,
  error: null,
  task_id: null,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  seq: 2,
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
const page = (items: unknown[]) => json({ items, next_cursor: null, total: items.length })
let posts: { path: string; body: unknown }[] = []

beforeEach(() => {
  posts = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string, init?: RequestInit) => {
      const url = new URL(input, 'http://lq.test')
      if (init?.method === 'POST') {
        posts.push({ path: url.pathname, body: JSON.parse(init.body as string) })
        return json({ vm_id: 'vm-1', task_id: 't1', seq: 3 }, 202)
      }
      if (url.pathname === '/api/v1/vms/vm-1/nics') return page([{ nic_id: 'nic0', mac: '52:54:00:00:00:01', network_id: 'n1', model: 'virtio' }])
      if (url.pathname === '/api/v1/vms/vm-1/disks') return page([{ disk_id: 'disk0', size_gib: 10, bus: 'virtio', pool_id: 'default' }])
      if (url.pathname === '/api/v1/networks')
        return page([{ id: 'n1', network_id: 'n1', name: 'lan', type: 'nat', cidr: '10.5.0.0/24', hosts: { h1: { state: 'active', detail: '', at: '' } } }])
      if (url.pathname === '/api/v1/storage-pools')
        return page([
          { id: 'p1', name: 'fast', type: 'dir', available_bytes: 0, hosts: [{ host_id: 'h1', host_name: 'sim-1' }] },
          { id: 'p2', name: 'far', type: 'dir', available_bytes: 0, hosts: [{ host_id: 'h2', host_name: 'sim-2' }] },
        ])
      return page([])
    }),
  )
})
afterEach(() => vi.unstubAllGlobals())

const wrap = (ui: React.ReactNode) =>
  render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter>{ui}</MemoryRouter>
    </QueryClientProvider>,
  )

describe('the VM tabs use the pickers', () => {
  it('shows NICs by network name and attaches a NIC to a picked network', async () => {
    const user = userEvent.setup()
    wrap(<NetworkTab vm={VM} busy={false} />)
    const row = await screen.findByRole('row', { name: /nic0/ })
    await waitFor(() => expect(row).toHaveTextContent('lan'))
    await user.click(screen.getByRole('button', { name: /Attach NIC/ }))
    const dialog = screen.getByRole('dialog')
    const picker = within(dialog).getByRole('combobox', { name: /^Network/ })
    expect(within(picker).getAllByRole('option').map((o) => o.getAttribute('value'))).toEqual(['default', 'n1'])
    await user.selectOptions(picker, 'n1')
    await user.click(within(dialog).getByRole('button', { name: 'Attach' }))
    await waitFor(() => expect(posts).toEqual([{ path: '/api/v1/vms/vm-1/nics', body: { network_id: 'n1', model: 'virtio' } }]))
  })

  it('attaches a disk in a pool of the VM\u2019s host; pools elsewhere are disabled', async () => {
    const user = userEvent.setup()
    wrap(<DisksTab vm={VM} busy={false} />)
    await user.click(await screen.findByRole('button', { name: /Attach disk/ }))
    const dialog = screen.getByRole('dialog')
    const picker = within(dialog).getByRole('combobox', { name: /^Pool/ })
    await waitFor(() => expect(within(picker).getByRole('option', { name: /^far/ })).toBeDisabled())
    expect(within(picker).getByRole('option', { name: /^fast/ })).toBeEnabled()
    await user.selectOptions(picker, 'p1')
    await user.click(within(dialog).getByRole('button', { name: 'Attach' }))
    await waitFor(() => expect(posts).toEqual([{ path: '/api/v1/vms/vm-1/disks', body: { size_gib: 10, bus: 'virtio', pool_id: 'p1' } }]))
  })
})
