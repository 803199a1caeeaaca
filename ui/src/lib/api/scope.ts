/**
 * Which cluster a VM or host belongs to, for cluster-scoped permissions (docs/security.md).
 *
 * The API counts a `cluster:<id>` role binding on the cluster itself, its hosts and the VMs
 * on them (or, before they run, in one of its resource pools). The UI answers the same from
 * what it already has: a host's `cluster_id`, a VM's host, else its resource pool. The
 * look-ups run only for a caller whose grants depend on the cluster (a global grant or no
 * cluster binding at all answers without them).
 */
import { useQuery } from '@tanstack/react-query'
import { api } from './client'
import { qk } from '../queryKeys'
import type { Host, Page, Vm } from './types'
import type { Cluster } from './clusters'
import { allows, useMe, type Me } from './security'

type Placed = Pick<Vm, 'host_id'> & { resource_pool_id?: string | null }

/** Whether the answer to `permission` may depend on the cluster. */
export function dependsOnCluster(me: Me | undefined, permission: string): boolean {
  return !!me && !me.permissions.includes(permission) && allows(me, permission, 'anywhere')
}

/** The cluster a host belongs to, from the hosts already loaded (`null`: none or unknown). */
export function hostCluster(hosts: Pick<Host, 'id' | 'cluster_id'>[] | undefined, hostId: string | null | undefined): string | null {
  return hosts?.find((h) => h.id === hostId)?.cluster_id ?? null
}

/** The cluster of a resource pool, from the cluster list (`null`: none or unknown). */
export function poolCluster(clusters: Pick<Cluster, 'id' | 'pools'>[] | undefined, poolId: string | null | undefined): string | null {
  if (!poolId) return null
  return clusters?.find((c) => c.pools.some((p) => p.pool_id === poolId))?.id ?? null
}

/** The VM's cluster when `enabled` (its host's, else its resource pool's); `null` while unknown. */
export function useVmCluster(vm: Placed, enabled = true): string | null {
  const host = useQuery({
    queryKey: qk.host(vm.host_id ?? ''),
    queryFn: ({ signal }) => api.getHost(vm.host_id!, signal),
    enabled: enabled && !!vm.host_id,
  })
  const clusters = useQuery({
    queryKey: ['clusters'],
    queryFn: ({ signal }) => api.get<Page<Cluster>>('/clusters', undefined, signal),
    enabled: enabled && !vm.host_id && !!vm.resource_pool_id,
  })
  if (!enabled) return null
  if (vm.host_id) return host.data?.cluster_id ?? null
  return poolCluster(clusters.data?.items, vm.resource_pool_id)
}

/** `useCan` for an action on one VM: a global grant, or a grant on the VM's cluster. */
export function useCanOnVm(permission: string, vm: Placed): boolean {
  const me = useMe().data
  const clusterId = useVmCluster(vm, dependsOnCluster(me, permission))
  return allows(me, permission, { clusterId })
}
