import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { QueryClientProvider } from '@tanstack/react-query'
import { MemoryRouter, Route, Routes, useLocation } from 'react-router'
import { createQueryClient } from '../lib/queryClient'
import HostDetail from '../pages/HostDetail'
import { labelRows, networksOnHost, poolsOnHost, toLabels, validateLabels } from '../lib/api/hosts'
import type { Host } from '../lib/api/types'
import type { StoragePool } from '../lib/api/storage'
import type { Network } from '../lib/api/networks'

const HOST: Host = {
  id: 'h1',
  name: 'sim-1',
  state: 'connected',
  uri: 'test:///sim-1',
  cpus: 8,
  memory_mib: 16384,
  cpu_overcommit: 4,
  memory_overcommit: 1.5,
  allocated_vcpus: 3,
  allocated_memory_mib: 3072,
  vm_count: 2,
  labels: { zone: 'a' },
  reason: '',
  cluster_id: null,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
  seq: 4,
}

const GIB = 1024 ** 3

function pool(id: string, name: string, hostIds: string[], shared = false): StoragePool {
  return {
    id,
    name,
    type: shared ? 'netfs' : 'dir',
    params: {},
    shared,
    overcommit: 1,
    declared_bytes: 0,
    capacity_bytes: 20 * GIB,
    limit_bytes: 20 * GIB,
    allocated_bytes: 5 * GIB,
    used_bytes: GIB,
    available_bytes: 15 * GIB,
    volume_count: 3,
    host_count: hostIds.length,
    state: 'active',
    hosts: hostIds.map((h) => ({
      host_id: h,
      host_name: h === 'h1' ? 'sim-1' : 'sim-2',
      state: 'active',
      capacity_bytes: 20 * GIB,
      allocation_bytes: 5 * GIB,
      available_bytes: 15 * GIB,
      error: '',
      updated_at: '2026-01-01T00:00:00Z',
    })),
    updated_at: '2026-01-01T00:00:00Z',
    seq: 1,
  }
}

function network(id: string, name: string, states: Record<string, string>): Network {
  return {
    id,
    network_id: id,
    name,
    type: 'nat',
    cidr: '10.9.0.0/24',
    gateway: '10.9.0.1',
    dns: [],
    dhcp: true,
    dhcp_start: '10.9.0.2',
    dhcp_end: '10.9.0.254',
    mtu: 0,
    vlan_id: 0,
    bridge: '',
    reservations: [],
    hosts: Object.fromEntries(Object.entries(states).map(([h, state]) => [h, { state: state as 'active', detail: state === 'error' ? 'bridge busy' : '', at: '' }])),
    allocated: 0,
    connected_vms: 1,
    updated_at: '',
    seq: 1,
  }
}

describe('host helpers', () => {
  it('validates label rows with the server rules', () => {
    expect(validateLabels([{ key: 'rack', value: 'r12' }, { key: '', value: '' }])).toEqual({})
    const e = validateLabels([
      { key: 'rack', value: 'r1' },
      { key: 'rack', value: 'r2' },
      { key: 'bad key', value: 'x' },
      { key: '', value: 'orphan' },
      { key: 'ok', value: 'no spaces' },
    ])
    expect(Object.keys(e).sort()).toEqual(['labels.1.key', 'labels.2.key', 'labels.3.key', 'labels.4.value'])
    expect(validateLabels([{ key: 'a'.repeat(64), value: '' }])['labels.0.key']).toBeTruthy()
    expect(validateLabels([{ key: 'topology.io/zone', value: '' }])).toEqual({})
  })

  it('turns rows into labels and back', () => {
    expect(toLabels([{ key: ' rack ', value: ' r1 ' }, { key: '', value: '' }])).toEqual({ rack: 'r1' })
    expect(labelRows({ b: '2', a: '1' })).toEqual([
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
    ])
    expect(labelRows(null)).toEqual([])
  })

  it('picks the pools and networks of one host', () => {
    const pools = [pool('p1', 'fast', ['h1']), pool('p2', 'other', ['h2']), pool('p3', 'nfs', ['h1', 'h2'], true)]
    expect(poolsOnHost(pools, 'h1').map((x) => x.pool.name)).toEqual(['fast', 'nfs'])
    const nets = [network('n1', 'lan', { h1: 'active', h2: 'active' }), network('n2', 'dmz', { h2: 'active' })]
    expect(networksOnHost(nets, 'h1').map((x) => [x.network.name, x.on.state])).toEqual([['lan', 'active']])
  })
})

// ---- the page ---------------------------------------------------------------------------

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json' } })
const page = (items: unknown[]) => json({ items, next_cursor: null, total: items.length })
let host: Host
let patches: unknown[]
let patchAnswer: (() => Response) | null

beforeEach(() => {
  host = { ...HOST }
  patches = []
  patchAnswer = null
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string, init?: RequestInit) => {
      const url = new URL(input, 'http://lq.test')
      const p = url.pathname
      if (p === '/api/v1/hosts/h1' && init?.method === 'PATCH') {
        const body = JSON.parse(init.body as string) as { labels: Record<string, string> }
        patches.push(body)
        if (patchAnswer) return patchAnswer()
        host = { ...host, labels: body.labels, seq: host.seq + 1 }
        return json({ host_id: 'h1', labels: body.labels, seq: host.seq })
      }
      if (p === '/api/v1/hosts/h1') return json(host)
      if (p === '/api/v1/storage-pools') return page([pool('p1', 'fast', ['h1']), pool('p2', 'other', ['h2']), pool('p3', 'nfs', ['h1', 'h2'], true)])
      if (p === '/api/v1/networks') return page([network('n1', 'lan', { h1: 'active', h2: 'active' }), network('n2', 'dmz', { h2: 'active' }), network('n3', 'broken', { h1: 'error' })])
      if (p === '/api/v1/vms') return page([])
      if (p === '/api/v1/tasks' || p === '/api/v1/hosts') return page([])
      return json({ type: 'urn:limiquantix:problem:not-found', title: 'No such thing', status: 404 }, 404)
    }),
  )
})
afterEach(() => vi.unstubAllGlobals())

function Where() {
  const loc = useLocation()
  return <p data-testid="where">{loc.search}</p>
}

function renderHost(path = '/hosts/h1') {
  return render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route
            path="/hosts/:id"
            element={
              <>
                <HostDetail />
                <Where />
              </>
            }
          />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  )
}

describe('HostDetail', () => {
  it('has the seven tabs, keeps the tab in the URL and the maintenance action', async () => {
    const user = userEvent.setup()
    renderHost()
    await screen.findByRole('heading', { level: 1, name: 'sim-1' })
    const tabs = screen.getAllByRole('tab').map((t) => t.textContent?.replace(/\d+$/, ''))
    expect(tabs).toEqual(['Summary', 'VMs', 'Hardware', 'Storage', 'Network', 'Monitoring', 'Events'])
    expect(screen.getByRole('tab', { name: /VMs/ })).toHaveTextContent('2')
    expect(screen.getByRole('button', { name: 'Enter maintenance' })).toBeInTheDocument()
    await user.click(screen.getByRole('tab', { name: 'Hardware' }))
    expect(screen.getByTestId('where')).toHaveTextContent('?tab=hardware')
    expect(screen.getByTestId('host-cpus')).toHaveTextContent('8')
    expect(screen.getByTestId('host-uri')).toHaveTextContent('test:///sim-1')
    expect(screen.getByTestId('host-hardware')).toHaveTextContent('32 vCPUs')
  })

  it('lists only the pools attached to this host, with its state of each', async () => {
    renderHost('/hosts/h1?tab=storage')
    const table = await screen.findByRole('table', { name: 'Storage pools on sim-1' })
    const rows = within(table).getAllByRole('row').slice(1)
    expect(rows.map((r) => r.getAttribute('data-pool'))).toEqual(['fast', 'nfs'])
    expect(rows[0]).toHaveTextContent('dir · local')
    expect(rows[1]).toHaveTextContent('netfs · shared (2 hosts)')
    expect(rows[0]).toHaveTextContent('5.0 GiB of 20.0 GiB')
    expect(within(rows[0]).getByRole('link', { name: 'fast' })).toHaveAttribute('href', '/volumes?pool_id=p1')
  })

  it('lists the networks realised on this host, with their state here', async () => {
    renderHost('/hosts/h1?tab=network')
    const table = await screen.findByRole('table', { name: 'Networks on sim-1' })
    const rows = within(table).getAllByRole('row').slice(1)
    expect(rows.map((r) => r.getAttribute('data-network'))).toEqual(['lan', 'broken'])
    expect(rows[0]).toHaveTextContent('10.9.0.2 – 10.9.0.254')
    expect(within(rows[1]).getByText('error')).toHaveAttribute('data-state', 'error')
    expect(rows[1]).toHaveTextContent('bridge busy')
  })

  it('edits the labels: checks the rows, then replaces the set with one PATCH', async () => {
    const user = userEvent.setup()
    renderHost('/hosts/h1?tab=hardware')
    await user.click(await screen.findByRole('button', { name: 'Edit labels' }))
    const dialog = screen.getByRole('dialog')
    expect(within(dialog).getByRole('textbox', { name: 'Label 1 key' })).toHaveValue('zone')
    await user.click(within(dialog).getByRole('button', { name: 'Add label' }))
    await user.type(within(dialog).getByRole('textbox', { name: 'Label 2 key' }), 'rack name')
    await user.click(within(dialog).getByRole('button', { name: 'Save labels' }))
    expect(within(dialog).getByText(/Letters, digits/)).toBeInTheDocument()
    expect(patches).toHaveLength(0)
    const key = within(dialog).getByRole('textbox', { name: 'Label 2 key' })
    await user.clear(key)
    await user.type(key, 'rack')
    await user.type(within(dialog).getByRole('textbox', { name: 'Label 2 value' }), 'r12')
    await user.click(within(dialog).getByRole('button', { name: 'Save labels' }))
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument())
    expect(patches).toEqual([{ labels: { zone: 'a', rack: 'r12' } }])
    const chips = await screen.findByRole('list', { name: 'Labels' })
    await waitFor(() => expect(chips).toHaveTextContent('rack=r12'))
  })

  it('keeps the dialog open with the server refusal', async () => {
    patchAnswer = () => json({ type: 'urn:limiquantix:problem:invalid-body', title: 'The request body is not valid', status: 422, detail: 'Expected `str` matching regex - at `$.labels`' }, 422)
    const user = userEvent.setup()
    renderHost('/hosts/h1?tab=hardware')
    await user.click(await screen.findByRole('button', { name: 'Edit labels' }))
    const dialog = screen.getByRole('dialog')
    await user.click(within(dialog).getByRole('button', { name: 'Remove label 1' }))
    expect(dialog).toHaveTextContent('No labels: saving removes them all.')
    await user.click(within(dialog).getByRole('button', { name: 'Save labels' }))
    expect(await within(dialog).findByTestId('problem')).toHaveTextContent('The request body is not valid')
    expect(patches).toEqual([{ labels: {} }])
  })
})
