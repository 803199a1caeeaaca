import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { QueryClientProvider } from '@tanstack/react-query'
import { MemoryRouter, Route, Routes } from 'react-router'
import { createQueryClient } from '../lib/queryClient'
import VmNew from '../pages/VmNew'
import { fieldOfProblem, initialWizard, stepOf, toBody, validateWizard, type WizardState } from '../components/vm/wizard/model'

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
