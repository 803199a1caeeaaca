import { useEffect, useMemo, useState } from 'react'
import { ChevronLeft, ChevronRight, Monitor, Play, Search, Square, Trash2, X } from 'lucide-react'
import { useActiveTargets, useHosts, useVmActions, useVms, type VmAction } from '../../lib/api/hooks'
import { VM_STATES, type Vm } from '../../lib/api/types'
import { PAGE_SIZES, pageRange, usePaging } from '../../lib/paging'
import { Button } from '../ui/Button'
import { EmptyState, ErrorState, Spinner } from '../ui/Feedback'
import { VmTable, nextSort, type SortKey } from './VmTable'
import { ConfirmAction } from './ConfirmAction'
import { canRun } from './vmActions'
import { allows, useCan, useMe } from '../../lib/api/security'
import { hostCluster } from '../../lib/api/scope'


export interface VmFilters {
  q: string
  state: string
  host_id: string
  sort: string
  /** '' = VMs and templates, 'false' = VMs only, 'true' = templates only. */
  template?: string
}

export const DEFAULT_FILTERS: VmFilters = { q: '', state: '', host_id: '', sort: 'name', template: '' }

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value)
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms)
    return () => clearTimeout(t)
  }, [value, ms])
  return v
}

/**
 * Server-side paged, sorted, filtered VM list with multi-select and bulk actions.
 * Only one page (≤ 500 rows) is ever fetched; rows are virtualised.
 */
export function VmBrowser({ filters, onFilters, fixedHost, height, emptyHint }: { filters: VmFilters; onFilters: (f: VmFilters) => void; fixedHost?: boolean; height?: string; emptyHint?: React.ReactNode }) {
  const paging = usePaging(100)
  const [qInput, setQInput] = useState(filters.q)
  const q = useDebounced(qInput, 250)
  const [selected, setSelected] = useState<Map<string, Vm>>(new Map())
  const [confirm, setConfirm] = useState<VmAction | null>(null)
  const hosts = useHosts({ limit: 500, sort: 'name' })
  const busyIds = useActiveTargets()
  const actions = useVmActions()
  const canPower = useCan('vm.power', 'anywhere')
  const canDelete = useCan('vm.delete', 'anywhere')
  const me = useMe().data

  useEffect(() => setQInput(filters.q), [filters.q])
  useEffect(() => {
    if (q !== filters.q) onFilters({ ...filters, q })
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q])

  const { reset } = paging
  const filterKey = `${filters.q}|${filters.state}|${filters.host_id}|${filters.sort}|${filters.template ?? ''}|${paging.state.pageSize}`
  useEffect(() => {
    reset()
    setSelected(new Map())
  }, [filterKey, reset])

  const params = {
    limit: paging.state.pageSize,
    cursor: paging.cursor ?? undefined,
    sort: filters.sort || 'name',
    q: filters.q || undefined,
    state: filters.state || undefined,
    host_id: filters.host_id || undefined,
    template: filters.template || undefined,
  }
  const vms = useVms(params)
  const items = useMemo(() => vms.data?.items ?? [], [vms.data])

  // Keep the selected rows' data fresh when the page refetches.
  useEffect(() => {
    setSelected((prev) => {
      if (!prev.size) return prev
      let changed = false
      const next = new Map(prev)
      for (const vm of items) if (next.has(vm.id) && next.get(vm.id) !== vm) {
        next.set(vm.id, vm)
        changed = true
      }
      return changed ? next : prev
    })
  }, [items])

  const toggle = (vm: Vm) =>
    setSelected((prev) => {
      const next = new Map(prev)
      if (next.has(vm.id)) next.delete(vm.id)
      else next.set(vm.id, vm)
      return next
    })
  const toggleAll = () =>
    setSelected((prev) => {
      const allOn = items.length > 0 && items.every((v) => prev.has(v.id))
      const next = new Map(prev)
      for (const v of items) {
        if (allOn) next.delete(v.id)
        else next.set(v.id, v)
      }
      return next
    })

  const selectedVms = [...selected.values()]
  const permitted = (a: VmAction, v: Vm) =>
    allows(me, a === 'delete' ? 'vm.delete' : 'vm.power', { clusterId: hostCluster(hosts.data?.items, v.host_id) })
  const eligible = (a: VmAction) => selectedVms.filter((v) => canRun(a, v, busyIds.has(v.id)) && permitted(a, v))
  const run = (a: VmAction) => {
    const targets = eligible(a)
    if (!targets.length) return
    actions.mutate({ action: a, vms: targets.map((v) => ({ id: v.id, name: v.name })) })
    if (a === 'delete') setSelected(new Map())
  }
  const ask = (a: VmAction) => (a === 'start' ? run(a) : setConfirm(a))

  const range = pageRange(paging.state, items.length)
  const total = vms.data?.total ?? 0
  const hasFilter = !!(filters.q || filters.state || filters.template || (!fixedHost && filters.host_id))
  const select = 'h-8 rounded-md border border-border bg-surface-2 px-2 text-sm focus:border-accent focus:outline-none'

  return (
    <div className="flex flex-col gap-3">
      <div className="flex flex-wrap items-center gap-2">
        <div className="relative">
          <Search className="pointer-events-none absolute top-1/2 left-2.5 size-3.5 -translate-y-1/2 text-subtle" />
          <input
            value={qInput}
            onChange={(e) => setQInput(e.target.value)}
            placeholder="Filter by name or id"
            aria-label="Filter by name or id"
            className="h-8 w-64 rounded-md border border-border bg-surface-2 pr-2 pl-8 text-sm placeholder:text-subtle focus:border-accent focus:outline-none"
          />
        </div>
        <select aria-label="State" value={filters.state} onChange={(e) => onFilters({ ...filters, state: e.target.value })} className={select}>
          <option value="">All states</option>
          {VM_STATES.map((s) => (
            <option key={s} value={s}>
              {s[0].toUpperCase() + s.slice(1)}
            </option>
          ))}
        </select>
        <select aria-label="Kind" value={filters.template ?? ''} onChange={(e) => onFilters({ ...filters, template: e.target.value })} className={select}>
          <option value="">VMs and templates</option>
          <option value="false">VMs only</option>
          <option value="true">Templates only</option>
        </select>
        {!fixedHost && (
          <select aria-label="Host" value={filters.host_id} onChange={(e) => onFilters({ ...filters, host_id: e.target.value })} className={select}>
            <option value="">All hosts</option>
            {hosts.data?.items.map((h) => (
              <option key={h.id} value={h.id}>
                {h.name}
              </option>
            ))}
          </select>
        )}
        {hasFilter && (
          <Button size="sm" variant="ghost" icon={<X className="size-3.5" />} onClick={() => onFilters({ ...DEFAULT_FILTERS, sort: filters.sort, host_id: fixedHost ? filters.host_id : '' })}>
            Clear filters
          </Button>
        )}
        <div className="ml-auto flex items-center gap-2">
          {selected.size > 0 && <span className="text-sm text-muted">{selected.size} selected</span>}
          {canPower && (
            <Button size="sm" icon={<Play className="size-3.5" />} disabled={!eligible('start').length} onClick={() => ask('start')} title="Start the selected VMs">
              Start{selected.size > 1 && eligible('start').length ? ` (${eligible('start').length})` : ''}
            </Button>
          )}
          {canPower && (
            <Button size="sm" icon={<Square className="size-3.5" />} disabled={!eligible('stop').length} onClick={() => ask('stop')} title="Power off the selected VMs">
              Stop{selected.size > 1 && eligible('stop').length ? ` (${eligible('stop').length})` : ''}
            </Button>
          )}
          {canDelete && (
            <Button size="sm" variant="danger" icon={<Trash2 className="size-3.5" />} disabled={!eligible('delete').length} onClick={() => ask('delete')} title="Delete the selected VMs">
              Delete{selected.size > 1 && eligible('delete').length ? ` (${eligible('delete').length})` : ''}
            </Button>
          )}
        </div>
      </div>

      {vms.isError && !vms.data ? (
        <div className="rounded-xl border border-border bg-surface">
          <ErrorState error={vms.error} onRetry={() => vms.refetch()} title="Could not load VMs" />
        </div>
      ) : vms.isPending ? (
        <div className="rounded-xl border border-border bg-surface">
          <Spinner label="Loading VMs…" />
        </div>
      ) : (
        <VmTable
          vms={items}
          selected={selected}
          onToggle={toggle}
          onToggleAll={toggleAll}
          sort={filters.sort}
          onSort={(k: SortKey) => onFilters({ ...filters, sort: nextSort(filters.sort, k) })}
          busyIds={busyIds}
          fetching={vms.isFetching}
          height={height}
          showHost={!fixedHost}
          empty={
            <EmptyState icon={<Monitor className="size-5" />} title={hasFilter ? 'No VMs match these filters' : 'No virtual machines yet'}>
              {hasFilter ? 'Try another name, state or host.' : emptyHint}
            </EmptyState>
          }
        />
      )}

      <div className="flex flex-wrap items-center justify-between gap-3 text-sm text-muted">
        <span className="tabular-nums" data-testid="vm-range">
          {total === 0 ? 'No VMs' : `${range.from.toLocaleString()}–${range.to.toLocaleString()} of ${total.toLocaleString()} VMs`}
        </span>
        <div className="flex items-center gap-2">
          <label className="flex items-center gap-1.5">
            Rows
            <select aria-label="Rows per page" value={paging.state.pageSize} onChange={(e) => paging.setPageSize(Number(e.target.value))} className={select}>
              {PAGE_SIZES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <Button size="sm" icon={<ChevronLeft className="size-3.5" />} disabled={paging.state.index === 0} onClick={paging.prev} aria-label="Previous page">
            Prev
          </Button>
          <span className="tabular-nums">Page {paging.state.index + 1}</span>
          <Button size="sm" disabled={!vms.data?.next_cursor || vms.isPlaceholderData} onClick={() => paging.next(vms.data?.next_cursor)} aria-label="Next page">
            Next
            <ChevronRight className="size-3.5" />
          </Button>
        </div>
      </div>
      <ConfirmAction
        action={confirm}
        names={confirm ? eligible(confirm).map((v) => v.name) : []}
        onConfirm={() => confirm && run(confirm)}
        onClose={() => setConfirm(null)}
      />
    </div>
  )
}
