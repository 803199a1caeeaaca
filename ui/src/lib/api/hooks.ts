/** TanStack Query hooks per resource. Freshness comes from live invalidation, not polling. */
import {
  keepPreviousData,
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
  type QueryClient,
} from '@tanstack/react-query'
import { api, type Params } from './client'
import { qk } from '../queryKeys'
import type { CommandAccepted, CreateVmBody, Task } from './types'
import { toast } from '../../stores/ui'
import { describeError } from './errors'

export function useVms(params: Params, opts: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: qk.vms(params),
    queryFn: ({ signal }) => api.listVms(params, signal),
    placeholderData: keepPreviousData,
    enabled: opts.enabled ?? true,
  })
}

export function useVm(id: string | undefined) {
  return useQuery({
    queryKey: qk.vm(id ?? ''),
    queryFn: ({ signal }) => api.getVm(id!, signal),
    enabled: !!id,
  })
}

const EVENTS_PAGE = 100

export function useVmEvents(id: string) {
  return useInfiniteQuery({
    queryKey: qk.vmEvents(id),
    queryFn: ({ signal, pageParam }) => api.vmEvents(id, { limit: EVENTS_PAGE, cursor: pageParam }, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  })
}

export function useHostEvents(id: string) {
  return useInfiniteQuery({
    queryKey: qk.hostEvents(id),
    queryFn: ({ signal, pageParam }) => api.hostEvents(id, { limit: EVENTS_PAGE, cursor: pageParam }, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  })
}

export function useTaskEvents(id: string) {
  return useInfiniteQuery({
    queryKey: qk.taskEvents(id),
    queryFn: ({ signal, pageParam }) => api.taskEvents(id, { limit: EVENTS_PAGE, cursor: pageParam }, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  })
}

export function useHosts(params: Params = { limit: 500 }) {
  return useQuery({
    queryKey: qk.hosts(params),
    queryFn: ({ signal }) => api.listHosts(params, signal),
    placeholderData: keepPreviousData,
  })
}

export function useHost(id: string | undefined) {
  return useQuery({
    queryKey: qk.host(id ?? ''),
    queryFn: ({ signal }) => api.getHost(id!, signal),
    enabled: !!id,
  })
}

export function useTasks(params: Params = { limit: 25 }) {
  return useQuery({
    queryKey: qk.tasks(params),
    queryFn: ({ signal }) => api.listTasks(params, signal),
    placeholderData: keepPreviousData,
  })
}

export function useTask(id: string | undefined | null) {
  return useQuery({
    queryKey: qk.task(id ?? ''),
    queryFn: ({ signal }) => api.getTask(id!, signal),
    enabled: !!id,
  })
}

/** Ids of targets that have a queued or running task: their actions are disabled. */
export function useActiveTargets(): Set<string> {
  const running = useTasks({ state: 'running', limit: 500 })
  const queued = useTasks({ state: 'queued', limit: 500 })
  const ids = new Set<string>()
  for (const t of [...(running.data?.items ?? []), ...(queued.data?.items ?? [])] as Task[]) ids.add(t.target_id)
  return ids
}

export function useStats() {
  return useQuery({
    queryKey: qk.stats(),
    queryFn: async ({ signal }) => {
      const s = await api.stats(signal)
      api.noteSeen(s.seq)
      return s
    },
  })
}

export function useSearch(q: string) {
  const term = q.trim()
  return useQuery({
    queryKey: qk.search(term),
    queryFn: ({ signal }) => api.search(term, 12, signal),
    enabled: term.length > 0,
    placeholderData: keepPreviousData,
    staleTime: 5_000,
  })
}

/** After a command: refetch what it touched (reads carry min_seq, see ApiClient). */
export function invalidateAfterCommand(qc: QueryClient, res: CommandAccepted) {
  api.noteWrite(res.seq)
  void qc.invalidateQueries({ queryKey: qk.vm(res.vm_id) })
  void qc.invalidateQueries({ queryKey: qk.vms() })
  void qc.invalidateQueries({ queryKey: qk.tasks() })
  void qc.invalidateQueries({ queryKey: qk.stats() })
  void qc.invalidateQueries({ queryKey: ['host'] })
  void qc.invalidateQueries({ queryKey: qk.hosts() })
}

export type VmAction = 'start' | 'stop' | 'delete'

export const ACTION_LABEL: Record<VmAction, { verb: string; ing: string }> = {
  start: { verb: 'Start', ing: 'Starting' },
  stop: { verb: 'Stop', ing: 'Stopping' },
  delete: { verb: 'Delete', ing: 'Deleting' },
}

export function runVmAction(id: string, action: VmAction) {
  return action === 'delete' ? api.deleteVm(id) : api.vmAction(id, action)
}

export interface BulkResult {
  ok: CommandAccepted[]
  failed: { id: string; name: string; error: unknown }[]
}

/** Run one action over many VMs (bounded concurrency), report in one toast. */
export function useVmActions() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: async ({ action, vms }: { action: VmAction; vms: { id: string; name: string }[] }): Promise<BulkResult> => {
      const ok: CommandAccepted[] = []
      const failed: BulkResult['failed'] = []
      const queue = [...vms]
      const worker = async () => {
        for (let vm = queue.shift(); vm; vm = queue.shift()) {
          try {
            ok.push(await runVmAction(vm.id, action))
          } catch (error) {
            failed.push({ id: vm.id, name: vm.name, error })
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(8, vms.length) }, worker))
      return { ok, failed }
    },
    onSuccess: (res, { action, vms }) => {
      for (const r of res.ok) invalidateAfterCommand(qc, r)
      const label = ACTION_LABEL[action]
      if (res.ok.length) {
        const one = res.ok.length === 1 ? vms.find((v) => v.id === res.ok[0].vm_id) : undefined
        toast.success(
          one ? `${label.ing} ${one.name}` : `${label.ing} ${res.ok.length} VMs`,
          undefined,
          res.ok.length === 1 ? { to: `/tasks/${res.ok[0].task_id}`, label: 'View task' } : undefined,
        )
      }
      if (res.failed.length === 1) {
        const f = res.failed[0]
        toast.error(`Could not ${label.verb.toLowerCase()} ${f.name}`, describeError(f.error))
      } else if (res.failed.length > 1) {
        toast.error(
          `Could not ${label.verb.toLowerCase()} ${res.failed.length} VMs`,
          res.failed.slice(0, 3).map((f) => `${f.name}: ${describeError(f.error)}`).join('\n'),
        )
      }
    },
    onError: (err) => toast.error('The action failed', describeError(err)),
  })
}

export function useCreateVm() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: (body: CreateVmBody) => api.createVm(body),
    onSuccess: (res) => invalidateAfterCommand(qc, res),
  })
}
