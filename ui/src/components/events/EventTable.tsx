import { Fragment, useState } from 'react'
import { Link } from 'react-router'
import type { UseInfiniteQueryResult, InfiniteData } from '@tanstack/react-query'
import { ChevronRight, History } from 'lucide-react'
import type { LqEvent, Page } from '../../lib/api/types'
import { Button } from '../ui/Button'
import { EmptyState, ErrorState, Spinner } from '../ui/Feedback'
import { cn, formatDateTime, shortId } from '../../lib/format'
import { ChangesView, changesSummary } from './ChangesView'

function eventTone(type: string): string {
  if (/failed|error|down|deleted/.test(type)) return 'text-bad'
  if (/succeeded|started|created|connected|running/.test(type)) return 'text-ok'
  if (/stopped|stopping|cancelled|maintenance/.test(type)) return 'text-warn'
  return 'text-info'
}

/** Summary of an event's own fields, without the repeated `type`. */
function dataSummary(data: Record<string, unknown>): string {
  return Object.entries(data)
    .filter(([k, v]) => k !== 'type' && v !== null && v !== '' && typeof v !== 'object')
    .slice(0, 4)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('  ')
}

/** The full history of an aggregate (or task): type, time, actor, the task that caused it. */
export function EventTable({ query, showAggregate }: { query: UseInfiniteQueryResult<InfiniteData<Page<LqEvent>>>; showAggregate?: boolean }) {
  const [open, setOpen] = useState<Set<string>>(new Set())
  if (query.isPending) return <Spinner label="Loading events…" />
  if (query.isError && !query.data) return <ErrorState error={query.error} onRetry={() => query.refetch()} title="Could not load events" />
  const events = query.data?.pages.flatMap((p) => p.items) ?? []
  const total = query.data?.pages[0]?.total
  if (!events.length) return <EmptyState icon={<History className="size-5" />} title="No events recorded yet" />
  const toggle = (id: string) =>
    setOpen((s) => {
      const n = new Set(s)
      if (n.has(id)) n.delete(id)
      else n.add(id)
      return n
    })
  return (
    <div>
      <table className="w-full text-sm" data-testid="events">
        <thead className="border-b border-border text-left text-[11px] tracking-wide text-subtle uppercase">
          <tr>
            <th className="w-8" />
            <th className="py-2 pr-3 font-medium">Seq</th>
            <th className="py-2 pr-3 font-medium">Time</th>
            <th className="py-2 pr-3 font-medium">Event</th>
            {showAggregate && <th className="py-2 pr-3 font-medium">Object</th>}
            <th className="py-2 pr-3 font-medium">Actor</th>
            <th className="py-2 pr-3 font-medium">Task</th>
            <th className="py-2 pr-3 font-medium">Details</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => {
            const key = `${e.event_id}`
            const isOpen = open.has(key)
            return (
              <Fragment key={key}>
                <tr className="border-b border-border/50 hover:bg-surface-2/60" data-event-type={e.type}>
                  <td className="pl-2">
                    <button onClick={() => toggle(key)} className="rounded p-1 text-subtle hover:text-fg" aria-expanded={isOpen} aria-label={isOpen ? 'Hide event data' : 'Show event data'}>
                      <ChevronRight className={cn('size-3.5 transition-transform', isOpen && 'rotate-90')} />
                    </button>
                  </td>
                  <td className="py-2 pr-3 text-xs text-subtle tabular-nums">
                    {e.seq}
                    {e.index ? `.${e.index}` : ''}
                  </td>
                  <td className="py-2 pr-3 text-xs whitespace-nowrap text-muted">{formatDateTime(e.occurred_at)}</td>
                  <td className={cn('py-2 pr-3 font-mono text-[13px]', eventTone(e.type))}>{e.type}</td>
                  {showAggregate && (
                    <td className="py-2 pr-3 text-xs whitespace-nowrap">
                      {e.aggregate_kind === 'vm' ? (
                        <Link className="text-accent hover:underline" to={`/vms/${e.aggregate_id}`}>
                          VM {shortId(e.aggregate_id)}
                        </Link>
                      ) : e.aggregate_kind === 'host' ? (
                        <Link className="text-accent hover:underline" to={`/hosts/${e.aggregate_id}`}>
                          Host {shortId(e.aggregate_id)}
                        </Link>
                      ) : (
                        `${e.aggregate_kind} ${shortId(e.aggregate_id)}`
                      )}
                    </td>
                  )}
                  <td className="max-w-48 truncate py-2 pr-3 text-xs whitespace-nowrap text-muted" title={e.actor ?? ''}>
                    {e.actor ?? '—'}
                  </td>
                  <td className="py-2 pr-3 font-mono text-xs">
                    {e.correlation_id ? (
                      <Link to={`/tasks/${e.correlation_id}`} className="text-accent hover:underline" title={e.correlation_id}>
                        {shortId(e.correlation_id)}
                      </Link>
                    ) : (
                      <span className="text-subtle">—</span>
                    )}
                  </td>
                  <td className="max-w-96 truncate py-2 pr-3 font-mono text-xs text-subtle" title={changesSummary(e.changes, 20) || undefined}>
                    {changesSummary(e.changes) || dataSummary(e.data)}
                  </td>
                </tr>
                {isOpen && (
                  <tr className="border-b border-border/50 bg-surface-2/40">
                    <td />
                    <td colSpan={showAggregate ? 7 : 6} className="py-2 pr-3">
                      <ChangesView changes={e.changes} className="mb-2" />
                      <pre className="overflow-x-auto rounded-md bg-bg p-3 font-mono text-xs text-muted">
                        {JSON.stringify({ data: e.data, event_id: e.event_id, causation_id: e.causation_id, schema_version: e.schema_version, traceparent: e.traceparent, hash: e.hash }, null, 2)}
                      </pre>
                    </td>
                  </tr>
                )}
              </Fragment>
            )
          })}
        </tbody>
      </table>
      <div className="flex items-center justify-between px-2 pt-3 text-xs text-subtle">
        <span>
          {events.length.toLocaleString()}
          {total !== undefined ? ` of ${total.toLocaleString()}` : ''} events
        </span>
        {query.hasNextPage && (
          <Button size="sm" onClick={() => query.fetchNextPage()} loading={query.isFetchingNextPage}>
            Load more
          </Button>
        )}
      </div>
    </div>
  )
}
