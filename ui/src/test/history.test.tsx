import { describe, expect, it } from 'vitest'
import { render, screen } from '@testing-library/react'
import { ChangesView, changesSummary } from '../components/events/ChangesView'
import { keysForChanges } from '../lib/queryKeys'

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
