import { useEffect, useRef, useState } from 'react'
import { Link, useNavigate } from 'react-router'
import { useVirtualizer } from '@tanstack/react-virtual'
import { ArrowDown, ArrowUp, ArrowUpDown, Loader2 } from 'lucide-react'
import type { Vm } from '../../lib/api/types'
import { StateBadge, TemplateBadge } from '../ui/StateBadge'
import { cn, formatMiB, timeAgo } from '../../lib/format'

export type SortKey = 'name' | 'state' | 'created_at' | 'updated_at'

export function parseSort(sort: string): { key: SortKey; desc: boolean } {
  const desc = sort.startsWith('-')
  const key = (desc ? sort.slice(1) : sort) as SortKey
  return { key, desc }
}

export function nextSort(current: string, key: SortKey): string {
  const { key: k, desc } = parseSort(current)
  if (k !== key) return key === 'updated_at' || key === 'created_at' ? `-${key}` : key
  return desc ? key : `-${key}`
}

const ROW_H = 40
const COLS = 'grid-cols-[2.5rem_minmax(12rem,2fr)_8.5rem_minmax(9rem,1.2fr)_5rem_6.5rem_8rem]'

export interface VmTableProps {
  vms: Vm[]
  selected: { has(id: string): boolean }
  onToggle: (vm: Vm) => void
  onToggleAll: () => void
  sort?: string
  onSort?: (key: SortKey) => void
  busyIds?: Set<string>
  fetching?: boolean
  /** Height of the scroll area; the table virtualises its rows inside it. */
  height?: string
  showHost?: boolean
  empty?: React.ReactNode
}

/**
 * The VM grid: virtualised rows (a page may hold 500), sortable headers, checkboxes.
 * Keyboard: ↑/↓ move, Space selects, Enter opens, Home/End jump.
 */
export function VmTable({ vms, selected, onToggle, onToggleAll, sort, onSort, busyIds, fetching, height = 'calc(100vh - 330px)', showHost = true, empty }: VmTableProps) {
  const scroller = useRef<HTMLDivElement>(null)
  const [active, setActive] = useState(0)
  const nav = useNavigate()
  const virtualizer = useVirtualizer({
    count: vms.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_H,
    overscan: 12,
    initialRect: { width: 1000, height: 600 },
  })

  useEffect(() => {
    if (active >= vms.length) setActive(Math.max(0, vms.length - 1))
  }, [vms.length, active])

  const allSelected = vms.length > 0 && vms.every((v) => selected.has(v.id))
  const someSelected = !allSelected && vms.some((v) => selected.has(v.id))

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (!vms.length) return
    let next = active
    switch (e.key) {
      case 'ArrowDown':
        next = Math.min(vms.length - 1, active + 1)
        break
      case 'ArrowUp':
        next = Math.max(0, active - 1)
        break
      case 'Home':
        next = 0
        break
      case 'End':
        next = vms.length - 1
        break
      case 'PageDown':
        next = Math.min(vms.length - 1, active + 10)
        break
      case 'PageUp':
        next = Math.max(0, active - 10)
        break
      case ' ':
        e.preventDefault()
        onToggle(vms[active])
        return
      case 'Enter':
        e.preventDefault()
        nav(`/vms/${vms[active].id}`)
        return
      case 'a':
        if (e.ctrlKey || e.metaKey) {
          e.preventDefault()
          onToggleAll()
        }
        return
      default:
        return
    }
    e.preventDefault()
    setActive(next)
    virtualizer.scrollToIndex(next, { align: 'auto' })
  }

  const header = (key: SortKey | null, label: string, cls = '') => {
    if (!key || !onSort) return <div className={cls}>{label}</div>
    const s = sort ? parseSort(sort) : null
    const on = s?.key === key
    const Icon = on ? (s!.desc ? ArrowDown : ArrowUp) : ArrowUpDown
    return (
      <button
        className={cn('flex items-center gap-1 text-left tracking-wide uppercase hover:text-fg', on && 'text-fg', cls)}
        onClick={() => onSort(key)}
        aria-sort={on ? (s!.desc ? 'descending' : 'ascending') : 'none'}
      >
        {label}
        <Icon className={cn('size-3', !on && 'opacity-40')} />
      </button>
    )
  }

  return (
    <div role="grid" aria-rowcount={vms.length} aria-multiselectable className="flex flex-col overflow-hidden rounded-xl border border-border bg-surface">
      <div role="row" className={cn('grid items-center gap-3 border-b border-border bg-surface-2/60 px-3 py-2 text-[11px] font-medium tracking-wide text-subtle uppercase', COLS)}>
        <div className="flex justify-center">
          <input
            type="checkbox"
            aria-label="Select all on this page"
            checked={allSelected}
            ref={(el) => {
              if (el) el.indeterminate = someSelected
            }}
            onChange={onToggleAll}
            className="size-3.5 accent-[var(--lq-accent)]"
          />
        </div>
        {header('name', 'Name')}
        {header('state', 'State')}
        {header(null, showHost ? 'Host' : 'Description')}
        {header(null, 'vCPUs', 'text-right justify-end')}
        {header(null, 'Memory', 'text-right justify-end')}
        <div className="flex items-center justify-end gap-2">
          {fetching && <Loader2 className="size-3 animate-spin" aria-label="Refreshing" />}
          {header('updated_at', 'Updated', 'justify-end')}
        </div>
      </div>
      {vms.length === 0 ? (
        empty
      ) : (
        <div
          ref={scroller}
          tabIndex={0}
          onKeyDown={onKeyDown}
          aria-label="Virtual machines"
          aria-activedescendant={vms[active] ? `vmrow-${vms[active].id}` : undefined}
          className="relative overflow-y-auto focus:outline-none focus-visible:ring-1 focus-visible:ring-accent/50"
          style={{ maxHeight: height, minHeight: Math.min(vms.length, 6) * ROW_H }}
        >
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
            {virtualizer.getVirtualItems().map((item) => {
              const vm = vms[item.index]
              const isSel = selected.has(vm.id)
              const isActive = item.index === active
              const busy = busyIds?.has(vm.id)
              return (
                <div
                  key={vm.id}
                  id={`vmrow-${vm.id}`}
                  role="row"
                  aria-selected={isSel}
                  data-vm-id={vm.id}
                  data-vm-name={vm.name}
                  data-state={vm.state}
                  data-template={vm.template ? 'true' : undefined}
                  onClick={() => setActive(item.index)}
                  className={cn(
                    'absolute top-0 left-0 grid w-full items-center gap-3 border-b border-border/50 px-3 text-sm',
                    COLS,
                    isSel ? 'bg-accent-soft' : 'hover:bg-surface-2/70',
                    isActive && 'shadow-[inset_2px_0_0_var(--lq-accent)]',
                  )}
                  style={{ height: ROW_H, transform: `translateY(${item.start}px)` }}
                >
                  <div className="flex justify-center" role="gridcell">
                    <input
                      type="checkbox"
                      tabIndex={-1}
                      aria-label={`Select ${vm.name}`}
                      checked={isSel}
                      onChange={() => onToggle(vm)}
                      className="size-3.5 accent-[var(--lq-accent)]"
                    />
                  </div>
                  <div className="min-w-0 truncate" role="gridcell">
                    <Link to={`/vms/${vm.id}`} className="font-medium hover:text-accent hover:underline" tabIndex={-1}>
                      {vm.name}
                    </Link>
                    {vm.template && <TemplateBadge className="ml-2" />}
                  </div>
                  <div role="gridcell" className="flex items-center gap-1.5">
                    <StateBadge state={vm.state} />
                    {busy && <Loader2 className="size-3 animate-spin text-info" aria-label="Task running" />}
                  </div>
                  <div className="min-w-0 truncate text-muted" role="gridcell">
                    {showHost ? (
                      vm.host_id ? (
                        <Link to={`/hosts/${vm.host_id}`} className="hover:text-accent hover:underline" tabIndex={-1}>
                          {vm.host_name ?? vm.host_id}
                        </Link>
                      ) : (
                        <span className="text-subtle">Not placed</span>
                      )
                    ) : (
                      vm.description || <span className="text-subtle">—</span>
                    )}
                  </div>
                  <div className="text-right tabular-nums" role="gridcell">
                    {vm.vcpus}
                  </div>
                  <div className="text-right tabular-nums" role="gridcell">
                    {formatMiB(vm.memory_mib)}
                  </div>
                  <div className="text-right text-xs text-subtle" role="gridcell" title={vm.updated_at}>
                    {timeAgo(vm.updated_at)}
                  </div>
                </div>
              )
            })}
          </div>
        </div>
      )}
    </div>
  )
}
