import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { QueryClientProvider } from '@tanstack/react-query'
import { MemoryRouter } from 'react-router'
import { createQueryClient } from '../lib/queryClient'
import { CancelTaskButton, canCancel } from '../components/tasks/CancelTaskButton'
import { useToasts } from '../stores/ui'
import type { Task } from '../lib/api/types'

const task = (state: Task['state'], extra: Partial<Task> = {}): Task => ({
  id: 't1',
  operation: 'vm.shutdown',
  target_kind: 'vm',
  target_id: 'v1',
  target_name: 'web-01',
  state,
  progress: 10,
  message: null,
  error: null,
  actor: 'user:admin',
  host_id: 'h1',
  created_at: '2026-01-01T00:00:00Z',
  started_at: null,
  finished_at: null,
  seq: 1,
  ...extra,
})

let status = 202
beforeEach(() => {
  useToasts.setState({ toasts: [] })
  vi.stubGlobal(
    'fetch',
    vi.fn(async () =>
      status === 202
        ? new Response(JSON.stringify({ vm_id: 'v1', task_id: 't1', seq: 9 }), { status: 202, headers: { 'content-type': 'application/json' } })
        : new Response(JSON.stringify({ type: 'urn:limiquantix:problem:not-cancellable', title: 'The request conflicts with the current state', status: 409, detail: 'shutdown of web-01 is under way on its host and cannot be stopped safely' }), {
            status: 409,
            headers: { 'content-type': 'application/problem+json' },
          }),
    ),
  )
})
afterEach(() => vi.unstubAllGlobals())

const wrap = (t: Task) =>
  render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter>
        <CancelTaskButton task={t} />
      </MemoryRouter>
    </QueryClientProvider>,
  )

describe('CancelTaskButton', () => {
  it('is offered only for queued or running VM tasks', () => {
    expect(canCancel(task('running'))).toBe(true)
    expect(canCancel(task('queued'))).toBe(true)
    expect(canCancel(task('succeeded'))).toBe(false)
    expect(canCancel(task('running', { target_kind: 'host' }))).toBe(false)
    expect(canCancel(task('running', { cancellable: false }))).toBe(false)
  })

  it('is offered for volume tasks only while queued', () => {
    expect(canCancel(task('queued', { target_kind: 'volume', operation: 'volume.delete' }))).toBe(true)
    expect(canCancel(task('running', { target_kind: 'volume', operation: 'volume.delete' }))).toBe(false)
  })

  it('posts the cancel and confirms', async () => {
    status = 202
    const user = userEvent.setup()
    wrap(task('running'))
    await user.click(screen.getByRole('button', { name: /cancel task/i }))
    await waitFor(() => expect(useToasts.getState().toasts.map((t) => t.title)).toContain('Cancellation requested'))
    const [url, init] = (fetch as unknown as { mock: { calls: [string, RequestInit][] } }).mock.calls[0]
    expect(url).toBe('/api/v1/tasks/t1/actions/cancel')
    expect(init.method).toBe('POST')
  })

  it('shows the refusal as the server words it', async () => {
    status = 409
    const user = userEvent.setup()
    wrap(task('running'))
    await user.click(screen.getByRole('button', { name: /cancel task/i }))
    await waitFor(() => expect(useToasts.getState().toasts[0]?.kind).toBe('error'))
    expect(useToasts.getState().toasts[0].message).toContain('cannot be stopped safely')
  })
})
