import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { QueryClientProvider } from '@tanstack/react-query'
import { MemoryRouter, Route, Routes } from 'react-router'
import { createQueryClient } from '../lib/queryClient'
import VmNew from '../pages/VmNew'
import { fieldOfProblem, initialWizard, stepOf, toBody, validateWizard, type WizardState } from '../components/vm/wizard/model'
import { networkOptions, poolOptions, poolsNeedingPin } from '../components/vm/ResourcePickers'
import type { StoragePool } from '../lib/api/storage'
import type { Network } from '../lib/api/networks'

const valid = (patch: Partial<WizardState> = {}): WizardState => ({ ...initialWizard(), name: 'web-01', ...patch })

describe('validateWizard', () => {
  it('accepts the defaults with a name', () => {
    expect(validateWizard(valid())).toEqual({})
  })

  it('checks the name', () => {
    expect(validateWizard(valid({ name: '' })).name).toMatch(/name/i)
    expect(validateWizard(valid({ name: '-web' })).name).toBeTruthy()
    expect(validateWizard(valid({ name: 'a'.repeat(64) })).name).toBeTruthy()
    expect(validateWizard(valid({ name: 'a'.repeat(63) })).name).toBeUndefined()
  })

  it('checks CPU, memory and the hot-plug maxima against them', () => {
    expect(validateWizard(valid({ vcpus: '0' })).vcpus).toBeTruthy()
    expect(validateWizard(valid({ vcpus: '1.5' })).vcpus).toBeTruthy()
    expect(validateWizard(valid({ vcpus: '513' })).vcpus).toBeTruthy()
    expect(validateWizard(valid({ memory_mib: '8' })).memory_mib).toBeTruthy()
    expect(validateWizard(valid({ vcpus: '4', max_vcpus: '2' })).max_vcpus).toMatch(/at least/i)
    expect(validateWizard(valid({ vcpus: '2', max_vcpus: '8' })).max_vcpus).toBeUndefined()
    expect(validateWizard(valid({ memory_mib: '2048', max_memory_mib: '1024' })).max_memory_mib).toMatch(/at least/i)
    expect(validateWizard(valid({ max_memory_mib: 'lots' })).max_memory_mib).toBeTruthy()
  })

  it('checks every disk and NIC row by index', () => {
    const e = validateWizard(
      valid({
        disks: [
          { size_gib: '10', bus: 'virtio', pool_id: 'default' },
          { size_gib: '0', bus: 'sata', pool_id: '' },
        ],
        nics: [{ network_id: 'default', model: 'virtio' }, { network_id: ' ', model: 'e1000' }],
      }),
    )
    expect(Object.keys(e).sort()).toEqual(['disks.1.pool_id', 'disks.1.size_gib', 'nics.1.network_id'])
    expect(stepOf('disks.1.size_gib')).toBe('disks')
    expect(stepOf('nics.1.network_id')).toBe('network')
  })

  it('needs a disk to boot from disk, unless it boots from the network', () => {
    expect(validateWizard(valid({ disks: [] })).disks).toBeTruthy()
    expect(validateWizard(valid({ disks: [], boot_order: ['network'] })).disks).toBeUndefined()
    expect(validateWizard(valid({ boot_order: [] })).boot_order).toBeTruthy()
  })

  it('ignores disk rows when cloning a template, but needs the template', () => {
    const e = validateWizard(valid({ source: 'template', disks: [{ size_gib: 'x', bus: 'virtio', pool_id: '' }] }))
    expect(e).toEqual({ template_id: expect.any(String) })
    expect(validateWizard(valid({ source: 'template', template_id: 't1' }))).toEqual({})
  })

  it('checks cloud-init only when it is on', () => {
    expect(validateWizard(valid({ cloud_init: false, user_data: 'garbage' }))).toEqual({})
    expect(validateWizard(valid({ cloud_init: true, user_data: 'packages: [nginx]' })).user_data).toMatch(/header/)
    expect(validateWizard(valid({ cloud_init: true, user_data: '', meta_data: '', network_config: '' })).user_data).toBeTruthy()
    expect(validateWizard(valid({ cloud_init: true, user_data: '#cloud-config\npackages: [nginx]\n' }))).toEqual({})
    expect(stepOf('user_data')).toBe('cloud-init')
  })
})

describe('HA in the wizard', () => {
  it('checks the priority only when HA is on, on the first step', () => {
    expect(validateWizard(valid({ ha_enabled: false, ha_priority: 'x' }))).toEqual({})
    expect(validateWizard(valid({ ha_enabled: true, ha_priority: '1001' })).ha_priority).toBeTruthy()
    expect(validateWizard(valid({ ha_enabled: true, ha_priority: '-1' })).ha_priority).toBeTruthy()
    expect(validateWizard(valid({ ha_enabled: true, ha_priority: '1000' }))).toEqual({})
    expect(stepOf('ha_priority')).toBe('general')
  })

  it('sends ha_enabled and ha_priority only when on, for blank and template VMs', () => {
    expect(toBody(valid()).ha_enabled).toBeUndefined()
    expect(toBody(valid({ ha_enabled: true, ha_priority: '40' }))).toMatchObject({ ha_enabled: true, ha_priority: 40 })
    expect(toBody(valid({ source: 'template', template_id: 't1', ha_enabled: true, ha_priority: '0' }))).toMatchObject({ ha_enabled: true, ha_priority: 0 })
  })
})

const GIB = 1024 ** 3
const poolOf = (id: string, name: string, hostIds: string[]): StoragePool => ({
  id, name, type: 'dir', params: {}, shared: false, overcommit: 1, declared_bytes: 0, capacity_bytes: 10 * GIB, limit_bytes: 10 * GIB,
  allocated_bytes: 0, used_bytes: 0, available_bytes: 10 * GIB, volume_count: 0, host_count: hostIds.length, state: 'active',
  hosts: hostIds.map((h) => ({ host_id: h, host_name: h, state: 'active', capacity_bytes: 10 * GIB, allocation_bytes: 0, available_bytes: 10 * GIB, error: '', updated_at: '' })),
  updated_at: '', seq: 1,
})
const networkOf = (id: string, name: string, hosts: Record<string, 'active' | 'error'>): Network => ({
  id, network_id: id, name, type: 'nat', cidr: '10.7.0.0/24', gateway: '10.7.0.1', dns: [], dhcp: true, dhcp_start: '', dhcp_end: '', mtu: 0,
  vlan_id: 0, bridge: '', reservations: [], hosts: Object.fromEntries(Object.entries(hosts).map(([h, state]) => [h, { state, detail: '', at: '' }])),
  allocated: 0, connected_vms: 0, updated_at: '', seq: 1,
})

describe('network and pool pickers', () => {
  it('offer "default" first, then the fleet\'s networks by name, marking those not active on the chosen host', () => {
    const nets = [networkOf('n2', 'zeta', { h1: 'active' }), networkOf('n1', 'alpha', { h2: 'active' })]
    expect(networkOptions(nets).map((o) => o.value)).toEqual(['default', 'n1', 'n2'])
    expect(networkOptions(nets)[1].label).toBe('alpha — nat 10.7.0.0/24')
    expect(networkOptions(nets, 'h1')[1].label).toContain('(not on this host)')
    expect(networkOptions(nets, 'h1')[2].label).not.toContain('host')
    // A value the list does not know stays selectable.
    expect(networkOptions([], '', 'gone').map((o) => o.value)).toEqual(['default', 'gone'])
  })

  it('disable pools that are attached nowhere or not on the chosen host', () => {
    const pools = [poolOf('p1', 'fast', ['h1']), poolOf('p2', 'spare', [])]
    const free = poolOptions(pools)
    expect(free.map((o) => [o.value, o.disabled])).toEqual([['default', false], ['p1', false], ['p2', true]])
    expect(free[1].label).toBe('fast — dir, 10.0 GiB free')
    expect(poolOptions(pools, 'h2')[1]).toMatchObject({ disabled: true, label: expect.stringContaining('not on this host') })
    expect(poolOptions(pools, 'h1')[1].disabled).toBe(false)
  })

  it('say which pools need the VM pinned to their hosts', () => {
    const pools = [poolOf('p1', 'fast', ['h1']), poolOf('p3', 'both', ['h1', 'h2'])]
    expect(poolsNeedingPin(['default', 'p1', 'p3', 'p1'], pools, 2)).toEqual([{ name: 'fast', hosts: ['h1'] }])
    expect(poolsNeedingPin(['p1'], pools, 1)).toEqual([])
  })
})

describe('toBody', () => {
  it('builds the API body of a blank VM', () => {
    const b = toBody(
      valid({
        host_id: 'h1',
        max_vcpus: '4',
        disks: [
          { size_gib: '20', bus: 'virtio', pool_id: 'default' },
          { size_gib: '5', bus: 'sata', pool_id: 'fast' },
        ],
        cloud_init: true,
        user_data: '#cloud-config\n',
      }),
    )
    expect(b).toEqual({
      name: 'web-01',
      vcpus: 2,
      memory_mib: 2048,
      start: true,
      firmware: 'bios',
      machine: 'pc',
      boot_order: ['hd'],
      host_id: 'h1',
      max_vcpus: 4,
      disks: [
        { size_gib: 20, bus: 'virtio', pool_id: 'default' },
        { size_gib: 5, bus: 'sata', pool_id: 'fast' },
      ],
      nics: [{ network_id: 'default', model: 'virtio' }],
      cloud_init: { user_data: '#cloud-config\n', meta_data: '', network_config: '' },
    })
  })

  it('sends the template instead of disks, NICs and a host', () => {
    const b = toBody(valid({ source: 'template', template_id: 't1', linked: true, host_id: 'h1' }))
    expect(b.template_id).toBe('t1')
    expect(b.linked).toBe(true)
    expect(b.disks).toBeUndefined()
    expect(b.nics).toBeUndefined()
    expect(b.host_id).toBeUndefined()
  })
})

describe('fieldOfProblem', () => {
  it('reads the decoder path of the detail', () => {
    expect(fieldOfProblem(null, 'Expected `int` >= 1 - at `$.disks[1].size_gib`')).toBe('disks.1.size_gib')
    expect(fieldOfProblem(null, 'Expected `str` - at `$.cloud_init.user_data`')).toBe('user_data')
    expect(fieldOfProblem({ field: 'max_vcpus' }, 'too small')).toBe('max_vcpus')
    expect(fieldOfProblem(null, 'no connected host has room')).toBeUndefined()
  })
})

// ---- the page ---------------------------------------------------------------------------

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json' } })
let posts: unknown[] = []
let answer: () => Response

beforeEach(() => {
  posts = []
  answer = () => json({ vm_id: 'new-vm', task_id: 't1', seq: 5 }, 202)
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string, init?: RequestInit) => {
      const url = new URL(input, 'http://lq.test')
      if (url.pathname === '/api/v1/vms' && init?.method === 'POST') {
        posts.push(JSON.parse(init.body as string))
        return answer()
      }
      if (url.pathname === '/api/v1/hosts') return json({ items: [], next_cursor: null, total: 0 })
      if (url.pathname === '/api/v1/vms') return json({ items: [], next_cursor: null, total: 0 })
      if (url.pathname === '/api/v1/networks') return json({ items: [networkOf('n1', 'lan', { h1: 'active' })], next_cursor: null, total: 1 })
      if (url.pathname === '/api/v1/storage-pools') return json({ items: [poolOf('p1', 'fast', ['h1'])], next_cursor: null, total: 1 })
      return json({ type: 'urn:limiquantix:problem:not-found', title: 'No such thing', status: 404 }, 404)
    }),
  )
})
afterEach(() => vi.unstubAllGlobals())

function renderWizard() {
  return render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter initialEntries={['/vms/new']}>
        <Routes>
          <Route path="/vms/new" element={<VmNew />} />
          <Route path="/vms/:id" element={<p>detail page</p>} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  )
}

describe('VmNew wizard', () => {
  it('walks the steps, adds a disk and creates the VM', async () => {
    const user = userEvent.setup()
    renderWizard()
    // Next with no name shows the error once the step is left, and marks the step.
    await user.click(screen.getByRole('button', { name: /next/i }))
    await user.click(screen.getByRole('button', { name: /name & placement/i }))
    expect(screen.getByText('Give the VM a name.')).toBeInTheDocument()
    await user.type(screen.getByRole('textbox', { name: /^name/i }), 'web-01')
    await user.click(screen.getByRole('button', { name: /disks/i }))
    await user.click(screen.getByRole('button', { name: 'Add disk' }))
    const size = screen.getByRole('spinbutton', { name: 'Disk 1 size (GiB)' })
    await user.clear(size)
    await user.type(size, '5')
    await user.click(screen.getByRole('button', { name: /review/i }))
    expect(screen.getByTestId('wizard-summary')).toHaveTextContent('disk0 20 GiB virtio, disk1 5 GiB virtio')
    await user.click(screen.getByRole('button', { name: 'Create VM' }))
    await waitFor(() => expect(screen.getByText('detail page')).toBeInTheDocument())
    expect(posts).toHaveLength(1)
    expect(posts[0]).toMatchObject({ name: 'web-01', disks: [{ size_gib: 20 }, { size_gib: 5 }], nics: [{ network_id: 'default' }] })
  })

  it('picks the network and pool from the API lists and turns HA on', async () => {
    const user = userEvent.setup()
    renderWizard()
    await user.type(screen.getByRole('textbox', { name: /^name/i }), 'db-01')
    await user.click(screen.getByRole('checkbox', { name: /high availability/i }))
    const prio = screen.getByRole('spinbutton', { name: /restart priority/i })
    await user.clear(prio)
    await user.type(prio, '50')
    await user.click(screen.getByRole('button', { name: /^\d?\s*disks/i }))
    const pool = screen.getByRole('combobox', { name: 'Disk 0 pool' })
    await waitFor(() => expect(within(pool).getByRole('option', { name: /^fast/ })).toBeInTheDocument())
    await user.selectOptions(pool, 'p1')
    // Pool "fast" is on one host of one: no pin needed.
    expect(screen.queryByTestId('pool-pin-hint')).not.toBeInTheDocument()
    await user.click(screen.getByRole('button', { name: /^\d?\s*network/i }))
    const net = screen.getByRole('combobox', { name: 'NIC 0 network' })
    expect(within(net).getAllByRole('option').map((o) => o.getAttribute('value'))).toEqual(['default', 'n1'])
    await user.selectOptions(net, 'n1')
    await user.click(screen.getByRole('button', { name: /review/i }))
    const summary = screen.getByTestId('wizard-summary')
    expect(summary).toHaveTextContent('nic0 → lan (virtio)')
    expect(summary).toHaveTextContent('disk0 20 GiB virtio (pool fast)')
    expect(summary).toHaveTextContent('On, priority 50')
    await user.click(screen.getByRole('button', { name: 'Create VM' }))
    await waitFor(() => expect(posts).toHaveLength(1))
    expect(posts[0]).toMatchObject({ name: 'db-01', ha_enabled: true, ha_priority: 50, disks: [{ pool_id: 'p1' }], nics: [{ network_id: 'n1' }] })
  })

  it('does not send an invalid VM and opens the step with the error', async () => {
    const user = userEvent.setup()
    renderWizard()
    await user.type(screen.getByRole('textbox', { name: /^name/i }), 'web-01')
    await user.click(screen.getByRole('button', { name: /cpu & memory/i }))
    const cpus = screen.getByRole('spinbutton', { name: 'vCPUs' })
    await user.clear(cpus)
    await user.type(cpus, '0')
    await user.click(screen.getByRole('button', { name: /review/i }))
    await user.click(screen.getByRole('button', { name: 'Create VM' }))
    expect(posts).toHaveLength(0)
    expect(screen.getByRole('spinbutton', { name: 'vCPUs' })).toHaveAttribute('aria-invalid', 'true')
  })

  it('shows the server problem as written, with the field it names', async () => {
    answer = () => json({ type: 'urn:limiquantix:problem:invalid-body', title: 'The request body is not valid', status: 422, detail: 'Expected `int` <= 65536 - at `$.disks[0].size_gib`' }, 422)
    const user = userEvent.setup()
    renderWizard()
    await user.type(screen.getByRole('textbox', { name: /^name/i }), 'web-01')
    await user.click(screen.getByRole('button', { name: /review/i }))
    await user.click(screen.getByRole('button', { name: 'Create VM' }))
    const problem = await screen.findByTestId('problem')
    expect(problem).toHaveTextContent('The request body is not valid')
    expect(problem).toHaveTextContent('Expected `int` <= 65536 - at `$.disks[0].size_gib`')
    expect(problem).toHaveTextContent('422 invalid-body · field disks.0.size_gib')
    await user.click(screen.getByRole('button', { name: 'Show' }))
    expect(screen.getByRole('spinbutton', { name: 'Disk 0 size (GiB)' })).toHaveAttribute('aria-invalid', 'true')
  })
})
