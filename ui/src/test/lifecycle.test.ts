import { describe, expect, it } from 'vitest'
import { buildSnapshotTree, flattenTree } from '../components/vm/snapshotTree'
import { whyNot, whyNotDetach } from '../components/vm/lifecycleRules'
import { keysForChanges, qk } from '../lib/queryKeys'
import type { Snapshot } from '../lib/api/types'

const snap = (id: string, parent: string | null, at: string, extra: Partial<Snapshot> = {}): Snapshot => ({
  snapshot_id: id,
  name: id,
  parent_id: parent,
  created_at: `2026-01-01T00:00:${at}Z`,
  ...extra,
})

describe('buildSnapshotTree', () => {
  it('nests by parent, oldest first, and marks the current path', () => {
    const tree = buildSnapshotTree(
      [snap('c', 'a', '03'), snap('a', null, '01'), snap('b', 'a', '02'), snap('d', 'b', '04')],
      'd',
    )
    expect(tree.map((n) => n.snapshot.snapshot_id)).toEqual(['a'])
    expect(tree[0].children.map((n) => n.snapshot.snapshot_id)).toEqual(['b', 'c'])
    const rows = flattenTree(tree)
    expect(rows.map((n) => [n.snapshot.snapshot_id, n.depth])).toEqual([
      ['a', 0],
      ['b', 1],
      ['d', 2],
      ['c', 1],
    ])
    expect(rows.filter((n) => n.current).map((n) => n.snapshot.snapshot_id)).toEqual(['d'])
    expect(rows.filter((n) => n.onCurrentPath).map((n) => n.snapshot.snapshot_id)).toEqual(['a', 'b', 'd'])
  })

  it('takes the current flag from the snapshots when no id is given', () => {
    const rows = flattenTree(buildSnapshotTree([snap('a', null, '01'), snap('b', 'a', '02', { current: true })]))
    expect(rows.find((n) => n.current)?.snapshot.snapshot_id).toBe('b')
  })

  it('keeps orphans and cycles as roots instead of losing them', () => {
    const rows = flattenTree(buildSnapshotTree([snap('x', 'gone', '01'), snap('p', 'q', '02'), snap('q', 'p', '03'), snap('s', 's', '04')]))
    expect(rows.map((n) => n.snapshot.snapshot_id).sort()).toEqual(['p', 'q', 's', 'x'])
    expect(rows.every((n) => n.depth === 0)).toBe(true)
  })

  it('is empty for no snapshots', () => {
    expect(buildSnapshotTree([])).toEqual([])
  })
})

describe('lifecycle rules', () => {
  it('allows what the state allows', () => {
    expect(whyNot('start', { state: 'stopped' }, false)).toBeNull()
    expect(whyNot('start', { state: 'running' }, false)).toBeTruthy()
    expect(whyNot('start', { state: 'stopped', template: true }, false)).toMatch(/template/i)
    expect(whyNot('shutdown', { state: 'running' }, false)).toBeNull()
    expect(whyNot('pause', { state: 'paused' }, false)).toBeTruthy()
    expect(whyNot('resume', { state: 'paused' }, false)).toBeNull()
    expect(whyNot('convert-to-template', { state: 'running' }, false)).toMatch(/stop/i)
    expect(whyNot('convert-to-vm', { state: 'stopped', template: true }, false)).toBeNull()
    expect(whyNot('clone', { state: 'running' }, false)).toMatch(/stop/i)
    expect(whyNot('clone', { state: 'stopped', template: true }, false)).toBeNull()
  })

  it('blocks everything while a task runs or the VM moves', () => {
    expect(whyNot('delete', { state: 'stopped' }, true)).toMatch(/task/i)
    expect(whyNot('delete', { state: 'running' }, false)).toMatch(/stop/i)
    expect(whyNot('delete', { state: 'stopped' }, false)).toBeNull()
    expect(whyNot('snapshot', { state: 'starting' }, false)).toMatch(/starting/)
    expect(whyNot('delete', { state: 'deleted' }, false)).toBeTruthy()
  })

  it('keeps the boot disk of a running VM attached', () => {
    expect(whyNotDetach({ disk_id: 'disk0' }, { state: 'running' }, false)).toMatch(/boot disk/)
    expect(whyNotDetach({ disk_id: 'disk1' }, { state: 'running' }, false)).toBeNull()
    expect(whyNotDetach({ disk_id: 'disk0' }, { state: 'stopped' }, false)).toBeNull()
  })
})

describe('live keys of the new tabs', () => {
  it('a vm change refreshes its snapshots, disks and NICs through the vm prefix', () => {
    const keys = keysForChanges([{ kind: 'vm', id: 'v1' }]).map((k) => JSON.stringify(k))
    expect(keys).toContain(JSON.stringify(qk.vm('v1')))
    for (const k of [qk.vmSnapshots('v1'), qk.vmDisks('v1'), qk.vmNics('v1')]) expect(k.slice(0, 2)).toEqual([...qk.vm('v1')])
  })
})
