/**
 * The Events tab of a VM or host: an "as of" time slider showing the entity as it was at
 * any of its past sequences (folded server-side from its own events), then its events,
 * filterable by type and actor, each with its before/after values.
 */
import { useMemo, useState } from 'react'
import { History } from 'lucide-react'
import { Card } from '../ui/Card'
import { EventTable } from '../events/EventTable'
import { EventFilterBar } from '../events/EventFilters'
import { ErrorState, Spinner } from '../ui/Feedback'
import { useAsOf, useEntityEvents, useEntityTimeline, type EventFilters, type HistoryKind } from '../../lib/api/history'
import { cn, formatDateTime } from '../../lib/format'

type Row = Record<string, unknown>

const HIDDEN = new Set(['seq', 'updated_at'])

function show(v: unknown): string {
  if (v === null || v === undefined || v === '') return '—'
  if (typeof v === 'object') return JSON.stringify(v)
  return String(v)
}

export function AsOfSlider({ kind, id, current }: { kind: HistoryKind; id: string; current: Row }) {
  const timeline = useEntityTimeline(kind, id)
  const stops = timeline.data?.stops ?? []
  const [pos, setPos] = useState<number | null>(null)
  const index = pos ?? stops.length - 1
  const stop = stops[index]
  const latest = index === stops.length - 1
  const past = useAsOf<Row>(kind, id, stop && !latest ? stop.seq : undefined)
  if (timeline.isPending) return <Spinner label="Loading history…" />
  if (timeline.isError) return <ErrorState error={timeline.error} onRetry={() => timeline.refetch()} title="Could not load history" />
  if (!stops.length) return null
  const row = latest ? current : past.data
  const fields = Object.keys(current).filter((k) => !HIDDEN.has(k))
  return (
    <Card
      title={
        <span className="flex items-center gap-2">
          <History className="size-4" /> As of
        </span>
      }
      className="mb-4"
    >
      <div className="flex flex-wrap items-center gap-3 px-3 pt-2">
        <input
          type="range"
          min={0}
          max={stops.length - 1}
          value={index}
          onChange={(e) => setPos(Number(e.target.value))}
          aria-label="As of"
          className="min-w-64 flex-1 accent-[var(--color-accent)]"
          data-testid="as-of-slider"
        />
        <span className="text-xs text-muted tabular-nums" data-testid="as-of-label">
          {latest ? 'now' : `seq ${stop.seq} · ${formatDateTime(stop.occurred_at)} · ${stop.type}`}
        </span>
        {!latest && (
          <button className="text-xs text-accent hover:underline" onClick={() => setPos(null)}>
            Back to now
          </button>
        )}
      </div>
      {past.isError && !latest ? (
        <ErrorState error={past.error} title="Could not load this point in time" />
      ) : (
        <dl className="grid grid-cols-1 gap-x-6 px-3 py-2 text-xs sm:grid-cols-2" data-testid="as-of-row">
          {fields.map((k) => {
            const then = row?.[k]
            const changed = !latest && row !== undefined && show(then) !== show(current[k])
            return (
              <div key={k} className="flex justify-between gap-3 border-b border-border/40 py-1">
                <dt className="text-subtle">{k}</dt>
                <dd className={cn('truncate font-mono', changed ? 'text-warn' : 'text-muted')} title={changed ? `now: ${show(current[k])}` : undefined}>
                  {row === undefined ? '…' : show(then)}
                </dd>
              </div>
            )
          })}
        </dl>
      )}
    </Card>
  )
}

export function EntityHistory({ kind, id, current }: { kind: HistoryKind; id: string; current: Row }) {
  const [filters, setFilters] = useState<EventFilters>({})
  const q = useEntityEvents(kind, id, filters)
  const timeline = useEntityTimeline(kind, id)
  const types = useMemo(() => [`${kind}.`, 'task.', ...(timeline.data?.types ?? [])], [timeline.data, kind])
  return (
    <>
      <AsOfSlider kind={kind} id={id} current={current} />
      <Card bodyClassName="p-2">
        <EventFilterBar value={filters} onChange={setFilters} types={types} />
        <EventTable query={q} />
      </Card>
    </>
  )
}
