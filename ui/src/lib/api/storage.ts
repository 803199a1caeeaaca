/**
 * Storage pools and volumes API (docs/storage.md). Pools and volumes are events of the
 * `storage_pool` aggregate; their live changes arrive with kinds `storage_pool` and
 * `volume`, which invalidate the `['storage_pools']` and `['volumes']` prefixes
 * (lib/queryKeys.ts). Commands answer `202 {seq}` (`201` for a new pool); the client's
 * read-your-writes carries that seq into the next reads. Volume operations are tasks: their
 * answer names `task_id`, and a volume row names the task of its pending or last operation.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { API_BASE, api, buildQuery } from './client'
import { describeError, errorFromResponse } from './errors'
import { accessToken } from '../auth'
import { toast } from '../../stores/ui'

export type PoolType = 'dir' | 'netfs' | 'logical' | 'rbd' | 'iscsi'
export const POOL_TYPES: PoolType[] = ['dir', 'netfs', 'logical', 'rbd', 'iscsi']
export const SHARED_TYPES: PoolType[] = ['netfs', 'rbd', 'iscsi']

export interface PoolHost {
  host_id: string
  host_name: string
  state: string
  capacity_bytes: number
  allocation_bytes: number
  available_bytes: number
  error: string
  updated_at: string
}

export interface StoragePool {
  id: string
  name: string
  type: PoolType
  params: Record<string, unknown>
  shared: boolean
  overcommit: number
  declared_bytes: number
  capacity_bytes: number
  limit_bytes: number
  allocated_bytes: number
  used_bytes: number
  available_bytes: number
  volume_count: number
  host_count: number
  state: string
  hosts: PoolHost[]
  updated_at: string
  seq: number
}

export interface Volume {
  id: string
  pool_id: string
  pool_name: string
  pool_type: PoolType
  name: string
  format: 'raw' | 'qcow2'
  size_bytes: number
  allocation_bytes: number
  thin: boolean
  state: string
  operation: string
  progress: number
  error: string
  clone_of: string
  source_url: string
  host_id: string
  path: string
  attached_to: { vm_id: string; vm_name: string; disk_id: string }[]
  /** The task of the volume's pending (or last) operation; '' for volumes made before tasks. */
  task_id: string
  updated_at: string
  seq: number
}

export interface NewPool {
  name: string
  type: PoolType
  params: Record<string, unknown>
  overcommit?: number
  capacity_gib?: number
  host_ids?: string[]
}

export interface NewVolume {
  pool_id: string
  name: string
  size_gib: number
  format: 'raw' | 'qcow2'
  thin: boolean
}

export interface ImportVolume {
  pool_id: string
  name: string
  url: string
  format: 'raw' | 'qcow2'
  size_gib: number
}

interface Page<T> {
  items: T[]
  next_cursor: string | null
  total: number
}

type Accepted = { seq: number; pool_id?: string; volume_id?: string; task_id?: string }

export function useStoragePools() {
  return useQuery({
    queryKey: ['storage_pools'],
    queryFn: ({ signal }) => api.get<Page<StoragePool>>('/storage-pools', { limit: 500 }, signal),
    placeholderData: keepPreviousData,
  })
}

export function useVolumes(poolId?: string) {
  return useQuery({
    queryKey: ['volumes', poolId ?? ''],
    queryFn: ({ signal }) => api.get<Page<Volume>>('/volumes', { pool_id: poolId || undefined, limit: 500 }, signal),
    placeholderData: keepPreviousData,
  })
}

const id = (s: string) => encodeURIComponent(s)

export const storage = {
  createPool: (body: NewPool) => api.request<Accepted>('POST', '/storage-pools', { body }),
  deletePool: (poolId: string) => api.request<Accepted>('DELETE', `/storage-pools/${id(poolId)}`),
  poolAction: (v: { poolId: string; action: 'attach' | 'detach' | 'refresh'; hostId?: string }) =>
    api.request<Accepted>('POST', `/storage-pools/${id(v.poolId)}/actions/${v.action}`, {
      body: v.hostId ? { host_id: v.hostId } : {},
    }),
  createVolume: (body: NewVolume) => api.request<Accepted>('POST', '/volumes', { body }),
  importVolume: (body: ImportVolume) => api.request<Accepted>('POST', '/volumes/import', { body }),
  resizeVolume: (v: { volumeId: string; sizeGib: number }) =>
    api.request<Accepted>('POST', `/volumes/${id(v.volumeId)}/actions/resize`, { body: { size_gib: v.sizeGib } }),
  cloneVolume: (v: { volumeId: string; name: string }) =>
    api.request<Accepted>('POST', `/volumes/${id(v.volumeId)}/actions/clone`, { body: { name: v.name } }),
  /** The file itself is the body: the browser streams it; the host makes a volume of it. */
  uploadVolume: async (v: { poolId: string; name: string; format: 'raw' | 'qcow2'; file: Blob }): Promise<Accepted> => {
    const token = await accessToken()
    const res = await fetch(`${API_BASE}/volumes/upload${buildQuery({ pool_id: v.poolId, name: v.name, format: v.format })}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream', Accept: 'application/json, application/problem+json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: v.file,
    })
    if (!res.ok) throw await errorFromResponse(res)
    const data = (await res.json()) as Accepted
    api.noteWrite(data.seq)
    return data
  },
  deleteVolume: (v: { volumeId: string; force: boolean }) =>
    api.request<Accepted>('DELETE', `/volumes/${id(v.volumeId)}`, { params: { force: v.force || undefined } }),
}

/** A storage change: toast on success (with a link to its task) or failure, then refresh
 * pools, volumes and tasks (a volume's actions stay disabled while its task runs). */
export function useStorageChange<V>(fn: (v: V) => Promise<Accepted>, done?: string) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: fn,
    onSuccess: (res) => {
      if (done) toast.success(done, undefined, res.task_id ? { to: `/tasks/${res.task_id}`, label: 'View task' } : undefined)
      void qc.invalidateQueries({ queryKey: ['storage_pools'] })
      void qc.invalidateQueries({ queryKey: ['volumes'] })
      void qc.invalidateQueries({ queryKey: ['tasks'] })
    },
    onError: (e) => toast.error('Storage was not changed', describeError(e)),
  })
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`
}
