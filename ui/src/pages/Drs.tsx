/** /drs: DRS recommendations — each move drawn from → to, with approve, reject and apply. */
import { useState } from 'react'
import { Link } from 'react-router'
import { ArrowRight, Check, Play, Scale, X } from 'lucide-react'
import { useRecommendationAction, useRecommendations, type Recommendation } from '../lib/api/drs'
import { Card, PageHeader } from '../components/ui/Card'
import { Button } from '../components/ui/Button'
import { EmptyState, ErrorState, Spinner } from '../components/ui/Feedback'
import { cn, shortId, timeAgo } from '../lib/format'

const STATES = [
  ['pending,approved', 'Open'],
  ['applied', 'Applied'],
  ['rejected,expired,failed', 'Closed'],
  ['', 'All'],
] as const

const PRIORITY_TONE = ['', 'text-subtle', 'text-muted', 'text-info', 'text-warn', 'text-bad']

export default function Drs() {
  const [state, setState] = useState<string>('pending,approved')
  const recs = useRecommendations(state)
  return (
    <>
      <PageHeader
        title="DRS recommendations"
        icon={<Scale className="size-5" />}
        subtitle="Moves that even out the hosts' load. Approve to run at the next pass, apply to migrate now."
      />
      <div className="mb-3 flex flex-wrap items-center gap-2">
        <div role="radiogroup" aria-label="State" className="inline-flex rounded-md border border-border bg-surface p-0.5">
          {STATES.map(([key, label]) => (
            <button
              key={key}
              role="radio"
              aria-checked={state === key}
              onClick={() => setState(key)}
              className={cn('rounded px-2.5 py-1 text-xs', state === key ? 'bg-accent-soft font-medium text-fg' : 'text-muted hover:text-fg')}
            >
              {label}
            </button>
          ))}
        </div>
      </div>
      {recs.isPending ? (
        <Spinner label="Loading recommendations…" />
      ) : recs.isError && !recs.data ? (
        <ErrorState error={recs.error} onRetry={() => recs.refetch()} title="Could not load recommendations" />
      ) : recs.data!.items.length === 0 ? (
        <EmptyState icon={<Scale className="size-6" />} title="Nothing to rebalance">
          The hosts' load is even, or no recommendation matches this filter.
        </EmptyState>
      ) : (
        <Card bodyClassName="p-0">
          <RecommendationTable items={recs.data!.items} />
        </Card>
      )}
    </>
  )
}

function HostLink({ id, name }: { id: string; name: string | null }) {
  return (
    <Link to={`/hosts/${id}`} className="font-medium text-accent hover:underline">
      {name ?? shortId(id)}
    </Link>
  )
}

function RecommendationTable({ items }: { items: Recommendation[] }) {
  const action = useRecommendationAction()
  return (
    <table className="w-full text-sm" data-testid="drs-table">
      <thead className="text-left text-xs text-subtle">
        <tr className="border-b border-border">
          <th className="px-4 py-2 font-medium">Priority</th>
          <th className="px-4 py-2 font-medium">VM</th>
          <th className="px-4 py-2 font-medium">Move</th>
          <th className="px-4 py-2 font-medium">Improvement</th>
          <th className="px-4 py-2 font-medium">State</th>
          <th className="px-4 py-2 font-medium">Proposed</th>
          <th className="px-4 py-2 font-medium" />
        </tr>
      </thead>
      <tbody>
        {items.map((r) => {
          const busy = action.isPending && action.variables?.id === r.id
          const open = r.state === 'pending' || r.state === 'approved'
          return (
            <tr key={r.id} className="border-b border-border align-top last:border-0" data-testid={`rec-${r.id}`}>
              <td className={cn('px-4 py-2 font-semibold tabular-nums', PRIORITY_TONE[r.priority] ?? '')} title="1 = slight gain, 5 = strong gain">
                P{r.priority}
              </td>
              <td className="px-4 py-2">
                <Link to={`/vms/${r.vm_id}`} className="font-medium text-accent hover:underline">
                  {r.vm_name ?? shortId(r.vm_id)}
                </Link>
              </td>
              <td className="px-4 py-2">
                <span className="inline-flex items-center gap-2" aria-label={`from ${r.from_host_name ?? r.from_host_id} to ${r.to_host_name ?? r.to_host_id}`}>
                  <HostLink id={r.from_host_id} name={r.from_host_name} />
                  <ArrowRight className="size-4 text-subtle" />
                  <HostLink id={r.to_host_id} name={r.to_host_name} />
                </span>
                {r.reason && <div className="text-xs text-muted">{r.reason}</div>}
              </td>
              <td className="px-4 py-2 text-xs tabular-nums">
                <div>−{(r.improvement * 100).toFixed(2)} pts</div>
                <div className="text-subtle">
                  imbalance {r.imbalance_before.toFixed(3)} → {r.imbalance_after.toFixed(3)}
                </div>
              </td>
              <td className="px-4 py-2 text-xs">
                <div className="capitalize" data-testid="rec-state">{r.state}</div>
                {r.automatic && <div className="text-subtle">applied automatically</div>}
                {r.task_id && (
                  <Link to={`/tasks/${r.task_id}`} className="text-accent hover:underline">
                    migration task
                  </Link>
                )}
                {r.error && <div className="text-bad">{r.error}</div>}
              </td>
              <td className="px-4 py-2 text-xs text-muted" title={r.created_at}>{timeAgo(r.created_at)}</td>
              <td className="px-4 py-2 text-right whitespace-nowrap">
                {open && (
                  <>
                    <Button size="sm" icon={<Play className="size-3.5" />} loading={busy} onClick={() => action.mutate({ id: r.id, verb: 'apply' })}>
                      Apply
                    </Button>
                    {r.state === 'pending' && (
                      <Button size="sm" variant="ghost" className="ml-1" icon={<Check className="size-3.5" />} loading={busy} onClick={() => action.mutate({ id: r.id, verb: 'approve' })}>
                        Approve
                      </Button>
                    )}
                    <Button size="sm" variant="ghost" className="ml-1" icon={<X className="size-3.5" />} loading={busy} onClick={() => action.mutate({ id: r.id, verb: 'reject' })}>
                      Reject
                    </Button>
                  </>
                )}
              </td>
            </tr>
          )
        })}
      </tbody>
    </table>
  )
}
