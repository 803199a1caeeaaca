/**
 * Snapshots form a tree through `parent_id` (libvirt re-parents the children of a deleted
 * snapshot). `buildSnapshotTree` turns the flat list of the API into that tree, oldest
 * first at every level; a snapshot whose parent is missing (or a parent cycle, which a
 * healthy read model never has) becomes a root instead of disappearing.
 */
import type { Snapshot } from '../../lib/api/types'

export interface SnapshotNode {
  snapshot: Snapshot
  children: SnapshotNode[]
  depth: number
  /** The VM runs from this snapshot's state (the next snapshot's parent). */
  current: boolean
  /** The current snapshot is this node or below it: the path from the root to "now". */
  onCurrentPath: boolean
}

const byAge = (a: Snapshot, b: Snapshot) => (a.created_at ?? '').localeCompare(b.created_at ?? '') || a.name.localeCompare(b.name)

export function buildSnapshotTree(snapshots: Snapshot[], currentId?: string | null): SnapshotNode[] {
  const ids = new Set(snapshots.map((s) => s.snapshot_id))
  const current = currentId ?? snapshots.find((s) => s.current)?.snapshot_id ?? null
  const kids = new Map<string | null, Snapshot[]>()
  const parentOf = (s: Snapshot): string | null => (s.parent_id && ids.has(s.parent_id) && s.parent_id !== s.snapshot_id ? s.parent_id : null)
  // A snapshot whose parent chain loops (never reaches a root) is shown as a root itself.
  const rootedIn = new Map<string, boolean>()
  const reachesRoot = (s: Snapshot): boolean => {
    const seen = new Set<string>()
    let cur: Snapshot | undefined = s
    while (cur) {
      const known = rootedIn.get(cur.snapshot_id)
      if (known !== undefined) return known
      if (seen.has(cur.snapshot_id)) return false
      seen.add(cur.snapshot_id)
      const p = parentOf(cur)
      if (p === null) return true
      cur = snapshots.find((x) => x.snapshot_id === p)
    }
    return true
  }
  for (const s of snapshots) rootedIn.set(s.snapshot_id, reachesRoot(s))
  for (const s of snapshots) {
    const p = rootedIn.get(s.snapshot_id) ? parentOf(s) : null
    const list = kids.get(p) ?? []
    list.push(s)
    kids.set(p, list)
  }
  // `seen` guarantees every snapshot appears exactly once, whatever the parent ids say.
  const build = (parent: string | null, depth: number, seen: Set<string>): SnapshotNode[] =>
    (kids.get(parent) ?? [])
      .slice()
      .sort(byAge)
      .filter((s) => !seen.has(s.snapshot_id))
      .map((s) => {
        seen.add(s.snapshot_id)
        const children = build(s.snapshot_id, depth + 1, seen)
        const isCurrent = s.snapshot_id === current
        return { snapshot: s, children, depth, current: isCurrent, onCurrentPath: isCurrent || children.some((c) => c.onCurrentPath) }
      })
  return build(null, 0, new Set())
}

/** Depth-first order, for rendering a tree as rows. */
export function flattenTree(nodes: SnapshotNode[]): SnapshotNode[] {
  const out: SnapshotNode[] = []
  const walk = (ns: SnapshotNode[]) => {
    for (const n of ns) {
      out.push(n)
      walk(n.children)
    }
  }
  walk(nodes)
  return out
}
