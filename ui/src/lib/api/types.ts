/** Shapes of the LimiQuantix HTTP API v1 (see docs/api.md). */

export type VmState =
  | 'pending'
  | 'stopped'
  | 'starting'
  | 'running'
  | 'stopping'
  | 'paused'
  | 'migrating'
  | 'error'
  | 'deleted'

export const VM_STATES: VmState[] = [
  'pending',
  'stopped',
  'starting',
  'running',
  'stopping',
  'paused',
  'migrating',
  'error',
  'deleted',
]

export type HostState = 'connected' | 'maintenance' | 'disconnected' | 'down'
export const HOST_STATES: HostState[] = ['connected', 'maintenance', 'disconnected', 'down']

export type TaskState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'

export interface Page<T> {
  items: T[]
  next_cursor: string | null
  total: number
}

export interface Vm {
  id: string
  name: string
  state: VmState
  host_id: string | null
  host_name: string | null
  vcpus: number
  memory_mib: number
  description: string | null
  error: string | null
  task_id: string | null
  created_at: string
  updated_at: string
  seq: number
  // Full lifecycle fields (absent on servers that predate them).
  disks?: VmDisk[] | null
  nics?: VmNic[] | null
  firmware?: Firmware | null
  machine?: string | null
  boot_order?: BootDevice[] | null
  max_vcpus?: number | null
  max_memory_mib?: number | null
  template?: boolean | null
  clone_of?: { vm_id: string; linked: boolean } | null
  snapshot_count?: number | null
  current_snapshot_id?: string | null
  /** HA protection (docs/ha.md): restarted on another host when its host fails. */
  ha_enabled?: boolean | null
  /** 0–1000, higher restarts first; 0 takes the cluster's default priority. */
  ha_priority?: number | null
  /** The resource pool the VM is placed into (docs/clusters.md), if any. */
  resource_pool_id?: string | null
}

export type Firmware = 'bios' | 'uefi'
export type Machine = 'pc' | 'q35'
export type DiskBus = 'virtio' | 'sata' | 'scsi'
export type NicModel = 'virtio' | 'e1000' | 'rtl8139'
export type BootDevice = 'hd' | 'network' | 'cdrom'
export const DISK_BUSES: DiskBus[] = ['virtio', 'sata', 'scsi']
export const NIC_MODELS: NicModel[] = ['virtio', 'e1000', 'rtl8139']

/** A virtual disk of a VM; `disk0` is the boot disk. */
export interface VmDisk {
  disk_id: string
  size_gib: number
  bus: DiskBus
  device?: 'disk' | 'cdrom'
  pool_id: string
  volume?: string | null
}

/** A virtual NIC; the MAC never changes, the IP is what the host last observed. */
export interface VmNic {
  nic_id: string
  mac: string
  network_id: string
  model: NicModel
  ip?: string | null
}

/** A snapshot of a VM; snapshots form a tree through `parent_id`. */
export interface Snapshot {
  snapshot_id: string
  name: string
  description?: string | null
  parent_id: string | null
  memory?: boolean
  vm_state?: string | null
  current?: boolean
  created_at?: string | null
}

export interface Host {
  id: string
  name: string
  state: HostState
  uri: string
  cpus: number
  memory_mib: number
  cpu_overcommit: number
  memory_overcommit: number
  allocated_vcpus: number
  allocated_memory_mib: number
  vm_count: number
  labels: Record<string, string> | null
  /** Why the host is disconnected or down (empty when connected). */
  reason?: string | null
  cluster_id?: string | null
  created_at: string
  updated_at: string
  seq: number
}

export interface Task {
  id: string
  operation: string
  target_kind: string
  target_id: string
  target_name: string | null
  state: TaskState
  progress: number
  message: string | null
  error: string | null
  actor: string | null
  host_id: string | null
  created_at: string
  started_at: string | null
  finished_at: string | null
  seq: number
  /** Whether the task may still be cancelled (absent: decided by the server on request). */
  cancellable?: boolean | null
}

export interface LqEvent {
  seq: number
  index: number
  event_id: string
  type: string
  schema_version: number
  aggregate_kind: string
  aggregate_id: string
  occurred_at: string
  actor: string | null
  correlation_id: string | null
  causation_id: string | null
  traceparent: string | null
  data: Record<string, unknown>
  /** Aggregate fields the event changed, `{field: [old, new]}` (null: none, or an old event). */
  changes?: Record<string, unknown> | null
  /** Link in the aggregate's hash chain (null: written before chaining). */
  hash?: string | null
}

export interface Stats {
  vms: { total: number; by_state: Partial<Record<VmState, number>> }
  hosts: { total: number; by_state: Partial<Record<HostState, number>> }
  cpu: { capacity: number; allocated: number }
  memory_mib: { capacity: number; allocated: number }
  seq: number
}

export interface SearchHit {
  kind: 'vm' | 'host'
  id: string
  name: string
  state: string
}

export interface CommandAccepted {
  vm_id: string
  task_id: string
  seq: number
}

export interface CreateVmBody {
  name: string
  vcpus: number
  memory_mib: number
  start?: boolean
  description?: string
  disks?: { size_gib: number; bus?: DiskBus; pool_id?: string; volume?: string }[]
  nics?: { network_id?: string; model?: NicModel; mac?: string }[]
  firmware?: Firmware
  machine?: Machine
  boot_order?: BootDevice[]
  max_vcpus?: number
  max_memory_mib?: number
  cloud_init?: { user_data: string; meta_data: string; network_config: string }
  template_id?: string
  linked?: boolean
  host_id?: string
  ha_enabled?: boolean
  ha_priority?: number
}

export const ACTIVE_TASK_STATES: TaskState[] = ['queued', 'running']
export const isTaskActive = (t: Pick<Task, 'state'> | undefined | null) =>
  !!t && ACTIVE_TASK_STATES.includes(t.state)
