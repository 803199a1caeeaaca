/**
 * Query keys, one place. Live invalidation depends on these prefixes:
 * `['vm', id]` covers a VM and its events; `['vms']` every VM list; etc.
 */
import type { Params } from './api/client'

export const qk = {
  vms: (params?: Params) => (params ? (['vms', params] as const) : (['vms'] as const)),
  vm: (id: string) => ['vm', id] as const,
  vmEvents: (id: string) => ['vm', id, 'events'] as const,
  // Snapshots, disks and NICs are events of the VM aggregate: a `vm` change marks them
  // stale through the `['vm', id]` prefix.
  vmSnapshots: (id: string) => ['vm', id, 'snapshots'] as const,
  vmDisks: (id: string) => ['vm', id, 'disks'] as const,
  vmNics: (id: string) => ['vm', id, 'nics'] as const,
  hosts: (params?: Params) => (params ? (['hosts', params] as const) : (['hosts'] as const)),
  host: (id: string) => ['host', id] as const,
  hostEvents: (id: string) => ['host', id, 'events'] as const,
  tasks: (params?: Params) => (params ? (['tasks', params] as const) : (['tasks'] as const)),
  task: (id: string) => ['task', id] as const,
  taskEvents: (id: string) => ['task', id, 'events'] as const,
  stats: () => ['stats'] as const,
  search: (q?: string) => (q === undefined ? (['search'] as const) : (['search', q] as const)),
}

export type QueryKey = readonly unknown[]

/**
 * Which query prefixes a batch of changes makes stale. Lists, stats, search and tasks are
 * always included: any change may move an item in or out of a list, and task events travel
 * with the change they describe.
 */
export function keysForChanges(changes: { kind: string; id: string }[]): QueryKey[] {
  const keys = new Map<string, QueryKey>()
  const add = (k: QueryKey) => keys.set(JSON.stringify(k), k)
  for (const c of changes) {
    switch (c.kind) {
      case 'vm':
        add(qk.vm(c.id))
        add(qk.vms())
        // Allocation and vm_count of hosts follow their VMs.
        add(qk.hosts())
        add(['host'])
        add(['volumes']) // a volume's "attached to" follows the VMs' disks
        break
      case 'host':
        add(qk.host(c.id))
        add(qk.hosts())
        add(qk.vms()) // host_name / host state appear in VM rows
        break
      case 'task':
        add(qk.task(c.id))
        break
      default:
        add([c.kind, c.id])
        add([`${c.kind}s`])
    }
  }
  if (changes.length) {
    add(['events']) // the audit log (/audit)
    add(qk.stats())
    add(qk.search())
    add(qk.tasks())
    add(['task'])
  }
  return [...keys.values()]
}
