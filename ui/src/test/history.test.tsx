import { describe, expect, it } from 'vitest'
import { render, screen } from '@testing-library/react'
import { ChangesView, changesSummary } from '../components/events/ChangesView'
import { keysForChanges } from '../lib/queryKeys'
import { timelineOf } from '../lib/api/history'
import type { LqEvent } from '../lib/api/types'

describe('before/after values', () => {
  it('summarises changes on one line', () => {
    expect(changesSummary({ state: ['running', 'stopping'], host_id: [null, 'h1'] })).toBe('state: running → stopping  host_id: — → h1')
    expect(changesSummary(null)).toBe('')
  })

  it('renders a diff table', () => {
    render(<ChangesView changes={{ name: [null, 'web-1'], vcpus: [1, 2] }} />)
    const table = screen.getByTestId('changes')
    expect(table.textContent).toContain('web-1')
    expect(table.textContent).toContain('vcpus')
  })

  it('says when nothing changed', () => {
    render(<ChangesView changes={null} />)
    expect(screen.getByText('No configuration changed.')).toBeTruthy()
  })

  it('live changes refresh the audit log', () => {
    expect(keysForChanges([{ kind: 'vm', id: 'v1' }]).map((k) => JSON.stringify(k))).toContain('["events"]')
  })
})

describe('entity timeline', () => {
  const ev = (seq: number, index: number, type: string) => ({ seq, index, type }) as LqEvent
  // Newest first, as the API answers; one report carries a task and a VM event.
  const events = [ev(9, 1, 'task.succeeded'), ev(9, 0, 'vm.resized'), ev(7, 0, 'vm.stopped'), ev(7, 1, 'task.succeeded'), ev(3, 0, 'task.queued')]

  it('labels each stop with the entity’s own last event there, oldest first', () => {
    const { stops } = timelineOf('vm', events)
    expect(stops.map((e) => [e.seq, e.type])).toEqual([
      [3, 'task.queued'],
      [7, 'vm.stopped'],
      [9, 'vm.resized'],
    ])
  })

  it('offers every type to the filter, even when it shares a sequence', () => {
    expect(timelineOf('vm', events).types).toEqual(['task.queued', 'task.succeeded', 'vm.resized', 'vm.stopped'])
  })
})
