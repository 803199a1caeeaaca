/**
 * The VM lifecycle beyond start/stop: snapshots, disks, NICs and every VM action, as
 * TanStack Query hooks. Reads live under the `['vm', id]` key prefix so the change feed
 * refreshes them; every command answers `202 {vm_id, task_id, seq}` and shows its task.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api } from './client'
import { invalidateAfterCommand } from './hooks'
import { describeError } from './errors'
import { qk } from '../queryKeys'
import { toast } from '../../stores/ui'
import type { CommandAccepted, Page, Snapshot, Vm, VmDisk, VmNic } from './types'

const vmPath = (id: string) => `/vms/${encodeURIComponent(id)}`

/** Lists may come as `{items}` pages or as bare arrays. */
export function itemsOf<T>(res: Page<T> | T[] | { items?: T[] } | null | undefined): T[] {
  if (!res) return []
  if (Array.isArray(res)) return res
  return res.items ?? []
}

export function useSnapshots(vmId: string) {
  return useQuery({
    queryKey: qk.vmSnapshots(vmId),
    queryFn: async ({ signal }) => itemsOf(await api.get<Page<Snapshot> | Snapshot[]>(`${vmPath(vmId)}/snapshots`, undefined, signal)),
    enabled: !!vmId,
  })
}

export function useDisks(vm: Pick<Vm, 'id'>) {
  return useQuery({
    queryKey: qk.vmDisks(vm.id),
    queryFn: async ({ signal }) => itemsOf(await api.get<Page<VmDisk> | VmDisk[]>(`${vmPath(vm.id)}/disks`, undefined, signal)),
  })
}

export function useNics(vm: Pick<Vm, 'id'>) {
  return useQuery({
    queryKey: qk.vmNics(vm.id),
    queryFn: async ({ signal }) => itemsOf(await api.get<Page<VmNic> | VmNic[]>(`${vmPath(vm.id)}/nics`, undefined, signal)),
  })
}

/** What a command does, for its toast: "Pausing web-01". */
export interface CommandSpec {
  /** Present participle for the success toast, e.g. "Pausing web-01". */
  doing: string
  /** Infinitive for the failure toast, e.g. "pause web-01". */
  verb: string
  run: () => Promise<CommandAccepted>
}

/**
 * Run one VM command: on success refresh what it touched and toast a link to its task
 * (the Recent tasks dock shows it live); on failure toast the server's problem.
 */
export function useVmCommand({ toastErrors = true }: { toastErrors?: boolean } = {}) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: (spec: CommandSpec) => spec.run(),
    onSuccess: (res, spec) => {
      invalidateAfterCommand(qc, res)
      toast.success(spec.doing, undefined, { to: `/tasks/${res.task_id}`, label: 'View task' })
    },
    onError: (err, spec) => {
      if (toastErrors) toast.error(`Could not ${spec.verb}`, describeError(err))
    },
  })
}

export type PowerVerb = 'start' | 'stop' | 'shutdown' | 'reboot' | 'pause' | 'resume' | 'convert-to-template' | 'convert-to-vm'

/** The command calls of the lifecycle API (docs/api.md). */
export const lifecycle = {
  action: (vmId: string, verb: PowerVerb, body?: unknown) => api.command('POST', `${vmPath(vmId)}/actions/${verb}`, body ?? {}),
  /** Without `timeout_s` the server applies the fleet's default shutdown timeout. */
  shutdown: (vmId: string, timeout_s: number | undefined, force_on_timeout: boolean) =>
    api.command('POST', `${vmPath(vmId)}/actions/shutdown`, timeout_s === undefined ? { force_on_timeout } : { timeout_s, force_on_timeout }),
  reboot: (vmId: string, force: boolean) => api.command('POST', `${vmPath(vmId)}/actions/reboot`, { force }),
  clone: (vmId: string, body: { name: string; linked: boolean; start: boolean }) => api.command('POST', `${vmPath(vmId)}/actions/clone`, body),
  resize: (vmId: string, body: { vcpus: number; memory_mib: number; live: boolean }) => api.command('POST', `${vmPath(vmId)}/actions/resize`, body),
  remove: (vmId: string, opts: { keep_disks: boolean; delete_snapshots: boolean }) => api.deleteVm(vmId, opts),

  createSnapshot: (vmId: string, body: { name: string; description: string; memory: boolean; quiesce: boolean }) =>
    api.command('POST', `${vmPath(vmId)}/snapshots`, body),
  revertSnapshot: (vmId: string, sid: string) => api.command('POST', `${vmPath(vmId)}/snapshots/${encodeURIComponent(sid)}/actions/revert`, {}),
  deleteSnapshot: (vmId: string, sid: string) => api.command('DELETE', `${vmPath(vmId)}/snapshots/${encodeURIComponent(sid)}`),

  attachDisk: (vmId: string, body: { size_gib: number; bus: string; pool_id: string }) => api.command('POST', `${vmPath(vmId)}/disks`, body),
  detachDisk: (vmId: string, diskId: string, deleteVolume: boolean) =>
    api.command('DELETE', `${vmPath(vmId)}/disks/${encodeURIComponent(diskId)}`, undefined, { delete_volume: deleteVolume || undefined }),
  resizeDisk: (vmId: string, diskId: string, size_gib: number) =>
    api.command('POST', `${vmPath(vmId)}/disks/${encodeURIComponent(diskId)}/actions/resize`, { size_gib }),

  attachNic: (vmId: string, body: { network_id: string; model: string }) => api.command('POST', `${vmPath(vmId)}/nics`, body),
  updateNic: (vmId: string, nicId: string, network_id: string) => api.command('PATCH', `${vmPath(vmId)}/nics/${encodeURIComponent(nicId)}`, { network_id }),
  detachNic: (vmId: string, nicId: string) => api.command('DELETE', `${vmPath(vmId)}/nics/${encodeURIComponent(nicId)}`),

  /** HA protection on or off and its restart priority (docs/ha.md). */
  setHa: (vmId: string, body: { enabled: boolean; priority: number }) => api.command('POST', `${vmPath(vmId)}/actions/set-ha`, body),
}

/** Cancel a queued or running task; a refusal (e.g. past the safe point) is shown as the server put it. */
export function useCancelTask() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: (taskId: string) => api.request<unknown>('POST', `/tasks/${encodeURIComponent(taskId)}/actions/cancel`, { body: {} }),
    onSuccess: (res, taskId) => {
      const seq = res && typeof res === 'object' && 'seq' in res ? (res as { seq?: number }).seq : undefined
      api.noteWrite(seq)
      void qc.invalidateQueries({ queryKey: qk.task(taskId) })
      void qc.invalidateQueries({ queryKey: qk.tasks() })
      toast.info('Cancellation requested', 'The task stops where that is safe.', { to: `/tasks/${taskId}`, label: 'View task' })
    },
    onError: (err) => toast.error('Could not cancel the task', describeError(err)),
  })
}
