/**
 * Clusters, resource pools, maintenance and migration API (docs/clusters.md). Live changes
 * of kind `cluster` invalidate the `['clusters']` prefix (lib/queryKeys.ts default case);
 * host and VM changes refresh the host and VM views as usual.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api } from './client'
import { describeError } from './errors'
import { toast } from '../../stores/ui'

export interface HaSettings {
  enabled: boolean
  failover_capacity_percent: number
  restart_priority: number
}

export interface DrsSettings {
  mode: 'manual' | 'partial' | 'full'
  threshold: number
  interval_s: number
  batch_size: number
  cooldown_s: number
}

export interface ResourcePool {
  pool_id: string
  name: string
  cpu_reservation: number
  cpu_limit: number
  memory_reservation_mib: number
  memory_limit_mib: number
  vm_count?: number
  used_vcpus?: number
  used_memory_mib?: number
}

export interface Cluster {
  id: string
  cluster_id: string
  name: string
  description: string
  ha: HaSettings
  drs: DrsSettings
  pools: ResourcePool[]
  host_count: number
  hosts_connected: number
  cpus: number
  memory_mib: number
  allocated_vcpus: number
  allocated_memory_mib: number
  vm_count: number
  created_at: string
  updated_at: string
  seq: number
}

export interface ClusterDetail extends Cluster {
  hosts: {
    id: string
    name: string
    state: string
    cpus: number
    memory_mib: number
    allocated_vcpus: number
    allocated_memory_mib: number
    vm_count: number
    labels: Record<string, string>
  }[]
  vms: {
    id: string
    name: string
    state: string
    host_id: string
    host_name: string | null
    vcpus: number
    memory_mib: number
    resource_pool_id: string | null
  }[]
}

interface Page<T> {
  items: T[]
  next_cursor: string | null
  total: number
}

interface Accepted {
  seq: number
  task_id?: string
  cluster_id?: string
  pool_id?: string
  migrating?: string[]
  staying?: string[]
}

const id = (s: string) => encodeURIComponent(s)

export function useClusters() {
  return useQuery({
    queryKey: ['clusters'],
    queryFn: ({ signal }) => api.get<Page<Cluster>>('/clusters', undefined, signal),
    placeholderData: keepPreviousData,
  })
}

export function useCluster(clusterId: string) {
  return useQuery({
    queryKey: ['clusters', 'one', clusterId],
    queryFn: ({ signal }) => api.get<ClusterDetail>(`/clusters/${id(clusterId)}`, undefined, signal),
    enabled: !!clusterId,
  })
}

export function useClusterEvents(clusterId: string) {
  return useQuery({
    queryKey: ['clusters', 'events', clusterId],
    queryFn: ({ signal }) =>
      api.get<Page<{ seq: number; type: string; occurred_at: string; actor: string; data: unknown }>>(
        '/events',
        { kind: 'cluster', aggregate_id: clusterId, limit: 100 },
        signal,
      ),
    enabled: !!clusterId,
  })
}

export const clusters = {
  create: (body: { name: string; description?: string }) => api.request<Accepted>('POST', '/clusters', { body }),
  update: (v: { clusterId: string; body: Partial<{ name: string; description: string; ha: HaSettings; drs: DrsSettings }> }) =>
    api.request<Accepted>('PATCH', `/clusters/${id(v.clusterId)}`, { body: v.body }),
  remove: (clusterId: string) => api.request<Accepted>('DELETE', `/clusters/${id(clusterId)}`),
  addHost: (v: { clusterId: string; hostId: string }) =>
    api.request<Accepted>('POST', `/clusters/${id(v.clusterId)}/actions/add-host`, { body: { host_id: v.hostId } }),
  removeHost: (v: { clusterId: string; hostId: string }) =>
    api.request<Accepted>('POST', `/clusters/${id(v.clusterId)}/actions/remove-host`, { body: { host_id: v.hostId } }),
  createPool: (v: { clusterId: string; body: Omit<ResourcePool, 'pool_id'> }) =>
    api.request<Accepted>('POST', `/clusters/${id(v.clusterId)}/resource-pools`, { body: v.body }),
  deletePool: (v: { clusterId: string; poolId: string }) =>
    api.request<Accepted>('DELETE', `/clusters/${id(v.clusterId)}/resource-pools/${id(v.poolId)}`),
  enterMaintenance: (hostId: string) => api.request<Accepted>('POST', `/hosts/${id(hostId)}/actions/enter-maintenance`),
  exitMaintenance: (hostId: string) => api.request<Accepted>('POST', `/hosts/${id(hostId)}/actions/exit-maintenance`),
  migrate: (v: { vmId: string; hostId: string | null }) =>
    api.request<Accepted>('POST', `/vms/${id(v.vmId)}/actions/migrate`, { body: v.hostId ? { host_id: v.hostId } : {} }),
}

/** A cluster, host or migration command: toast, then refresh what it touched. */
export function useClusterChange<V>(fn: (v: V) => Promise<Accepted>, done?: string) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: fn,
    onSuccess: () => {
      if (done) toast.success(done)
      void qc.invalidateQueries({ queryKey: ['clusters'] })
      void qc.invalidateQueries({ queryKey: ['hosts'] })
      void qc.invalidateQueries({ queryKey: ['vms'] })
      void qc.invalidateQueries({ queryKey: ['tasks'] })
      void qc.invalidateQueries({ queryKey: ['host'] })
      void qc.invalidateQueries({ queryKey: ['vm'] })
    },
    onError: (e) => toast.error('Nothing was changed', describeError(e)),
  })
}
