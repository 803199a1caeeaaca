import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { QueryClientProvider } from '@tanstack/react-query'
import { MemoryRouter } from 'react-router'
import type { ReactNode } from 'react'
import { createQueryClient } from '../lib/queryClient'
import { StateBadge } from '../components/ui/StateBadge'
import { VmBrowser, DEFAULT_FILTERS, type VmFilters } from '../components/vm/VmBrowser'
import { ErrorState } from '../components/ui/Feedback'
import { ApiError } from '../lib/api/errors'
import type { Vm } from '../lib/api/types'

function vm(i: number, state: Vm['state'] = 'running'): Vm {
  return {
    id: `vm-${i}`,
    name: `web-${String(i).padStart(2, '0')}`,
    state,
    host_id: 'h1',
    host_name: 'sim-1',
    vcpus: 2,
    memory_mib: 2048,
    description: '',
    error: null,
    task_id: null,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    seq: i,
  }
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json' } })

type Handler = (url: URL, init?: RequestInit) => Response | undefined
let handlers: Handler[] = []
let calls: { url: URL; init?: RequestInit }[] = []

beforeEach(() => {
  handlers = []
  calls = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string, init?: RequestInit) => {
      const url = new URL(input, 'http://lq.test')
      calls.push({ url, init })
      for (const h of handlers) {
        const r = h(url, init)
        if (r) return r
      }
      if (url.pathname === '/api/v1/tasks' || url.pathname === '/api/v1/hosts') return json({ items: [], next_cursor: null, total: 0 })
      return json({ type: 'urn:limiquantix:problem:not-found', title: 'No such thing', status: 404 }, 404)
    }),
  )
})
afterEach(() => vi.unstubAllGlobals())

function wrap(ui: ReactNode) {
  return render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter>{ui}</MemoryRouter>
    </QueryClientProvider>,
  )
}

function Browser() {
  let filters: VmFilters = { ...DEFAULT_FILTERS }
  return <VmBrowser filters={filters} onFilters={(f) => (filters = f)} />
}

describe('StateBadge', () => {
  it('shows the state with its tone', () => {
    render(<StateBadge state="running" />)
    const b = screen.getByText('running')
    expect(b).toHaveAttribute('data-state', 'running')
    expect(b.className).toContain('text-ok')
  })
})

describe('ErrorState', () => {
  it('shows the human message of an ApiError', () => {
    render(<ErrorState error={new ApiError(503, { type: 'urn:limiquantix:problem:unavailable', title: 'x' }, 'x')} onRetry={() => {}} />)
    expect(screen.getByRole('alert')).toHaveTextContent('A backing service of LimiQuantix is unavailable')
    expect(screen.getByRole('button', { name: /try again/i })).toBeInTheDocument()
  })
})

describe('VmBrowser', () => {
  it('pages with server cursors and never asks for more than a page', async () => {
    handlers.push((url) => {
      if (url.pathname !== '/api/v1/vms') return undefined
      const cursor = url.searchParams.get('cursor')
      return cursor === 'p2'
        ? json({ items: [vm(101)], next_cursor: null, total: 101 })
        : json({ items: Array.from({ length: 100 }, (_, i) => vm(i + 1)), next_cursor: 'p2', total: 101 })
    })
    const user = userEvent.setup()
    wrap(<Browser />)
    await waitFor(() => expect(screen.getByTestId('vm-range')).toHaveTextContent('1–100 of 101 VMs'))
    const first = calls.find((c) => c.url.pathname === '/api/v1/vms')!
    expect(first.url.searchParams.get('limit')).toBe('100')
    expect(first.url.searchParams.get('sort')).toBe('name')
    await user.click(screen.getByRole('button', { name: 'Next page' }))
    await waitFor(() => expect(screen.getByTestId('vm-range')).toHaveTextContent('101–101 of 101 VMs'))
    expect(calls.some((c) => c.url.searchParams.get('cursor') === 'p2')).toBe(true)
    expect(screen.getByRole('button', { name: 'Next page' })).toBeDisabled()
    await user.click(screen.getByRole('button', { name: 'Previous page' }))
    await waitFor(() => expect(screen.getByTestId('vm-range')).toHaveTextContent('1–100 of 101 VMs'))
  })

  it('selects with the keyboard and stops after confirmation', async () => {
    handlers.push((url, init) => {
      if (url.pathname === '/api/v1/vms' && (!init?.method || init.method === 'GET'))
        return json({ items: [vm(1, 'running'), vm(2, 'stopped')], next_cursor: null, total: 2 })
      if (url.pathname === '/api/v1/vms/vm-1/actions/stop') return json({ vm_id: 'vm-1', task_id: 't1', seq: 9 }, 202)
      return undefined
    })
    const user = userEvent.setup()
    wrap(<Browser />)
    const grid = await screen.findByLabelText('Virtual machines')
    grid.focus()
    await user.keyboard(' ') // select the first row (web-01, running)
    const stop = screen.getByRole('button', { name: /^Stop/ })
    expect(stop).toBeEnabled()
    expect(screen.getByRole('button', { name: /^Start/ })).toBeDisabled()
    await user.click(stop)
    const dialog = await screen.findByRole('dialog')
    expect(dialog).toHaveTextContent('Stop web-01?')
    await user.click(within(dialog).getByRole('button', { name: 'Power off' }))
    await waitFor(() => expect(calls.some((c) => c.url.pathname === '/api/v1/vms/vm-1/actions/stop' && c.init?.method === 'POST')).toBe(true))
    // The refetch after the command reads its own write.
    await waitFor(() => expect(calls.some((c) => c.url.pathname === '/api/v1/vms' && c.url.searchParams.get('min_seq') === '9')).toBe(true))
  })

  it('shows a friendly empty state', async () => {
    handlers.push((url) => (url.pathname === '/api/v1/vms' ? json({ items: [], next_cursor: null, total: 0 }) : undefined))
    wrap(<Browser />)
    expect(await screen.findByText('No virtual machines yet')).toBeInTheDocument()
  })
})
