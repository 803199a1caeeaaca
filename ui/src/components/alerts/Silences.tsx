/**
 * Silences on the Alerts page: the active ones (or all), a form to hold back notifications
 * of a rule and/or one thing for a while, and "End" to lift one early. Alerts keep firing
 * and being recorded while silenced; only their notices are held back.
 */
import { useEffect, useState, type FormEvent } from 'react'
import { BellOff, Plus } from 'lucide-react'
import { alerting, useAlertingChange, useAlertRules, useSilences, type Silence } from '../../lib/api/alerts'
import { Card } from '../ui/Card'
import { Button } from '../ui/Button'
import { EmptyState, ErrorState, Spinner } from '../ui/Feedback'
import { useCan } from '../../lib/api/security'
import { cn, shortId, timeAgo } from '../../lib/format'

/** What the alert table's "Silence" button fills in (``n`` makes each click a new draft). */
export interface SilenceDraft {
  rule_id: string
  scope_id: string
  n: number
}

const DURATIONS = [
  [900, '15 minutes'],
  [3600, '1 hour'],
  [4 * 3600, '4 hours'],
  [86400, '1 day'],
  [7 * 86400, '1 week'],
] as const

const input = 'h-8 rounded-md border border-border bg-bg px-2 text-sm text-fg outline-none focus:border-accent'

export function Silences({ draft }: { draft: SilenceDraft | null }) {
  const silences = useSilences()
  const rules = useAlertRules()
  const canManage = useCan('alert.manage')
  const [rule, setRule] = useState('')
  const [scope, setScope] = useState('')
  const [duration, setDuration] = useState(3600)
  const [comment, setComment] = useState('')
  const [showAll, setShowAll] = useState(false)
  const create = useAlertingChange(alerting.createSilence, 'silences', 'Silence created')
  const end = useAlertingChange(alerting.endSilence, 'silences', 'Silence ended')

  useEffect(() => {
    if (draft) {
      setRule(draft.rule_id)
      setScope(draft.scope_id)
    }
  }, [draft])

  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate(
      { rule_id: rule || undefined, scope_id: scope.trim() || undefined, duration_s: duration, comment: comment || undefined },
      { onSuccess: () => { setRule(''); setScope(''); setComment('') } },
    )
  }
  const items = (silences.data?.items ?? []).filter((s) => showAll || s.active)
  const ruleName = (id: string | null) => (id ? rules.data?.items.find((r) => r.rule_id === id)?.name ?? id : 'any rule')

  return (
    <Card
      title={<span className="inline-flex items-center gap-2"><BellOff className="size-4" />Silences</span>}
      bodyClassName="p-0"
      actions={
        <label className="flex items-center gap-1 text-xs text-muted">
          <input type="checkbox" checked={showAll} onChange={(e) => setShowAll(e.target.checked)} /> show ended and expired
        </label>
      }
    >
      {canManage && (
        <form onSubmit={submit} aria-label="New silence" className="flex flex-wrap items-end gap-2 border-b border-border p-3">
          <select className={input} aria-label="Silence rule" value={rule} onChange={(e) => setRule(e.target.value)}>
            <option value="">any rule</option>
            {rules.data?.items.map((r) => <option key={r.rule_id} value={r.rule_id}>{r.name} ({r.rule_id})</option>)}
          </select>
          <input className={cn(input, 'w-80')} aria-label="Silence scope" placeholder="host, VM or task id (empty: any)" value={scope} onChange={(e) => setScope(e.target.value)} />
          <select className={input} aria-label="Silence duration" value={duration} onChange={(e) => setDuration(Number(e.target.value))}>
            {DURATIONS.map(([s, label]) => <option key={s} value={s}>{label}</option>)}
          </select>
          <input className={cn(input, 'min-w-48 flex-1')} aria-label="Silence comment" placeholder="why (optional)" maxLength={1024} value={comment} onChange={(e) => setComment(e.target.value)} />
          <Button type="submit" size="sm" variant="primary" icon={<Plus className="size-3.5" />} loading={create.isPending} disabled={!rule && !scope.trim()}>
            Silence
          </Button>
        </form>
      )}
      {silences.isPending ? (
        <Spinner label="Loading silences…" />
      ) : silences.isError ? (
        <ErrorState error={silences.error} onRetry={() => silences.refetch()} title="Could not load silences" />
      ) : items.length === 0 ? (
        <EmptyState title="No active silences">Every alert that fires is notified.</EmptyState>
      ) : (
        <table className="w-full text-sm" aria-label="Silences">
          <thead className="text-left text-xs text-subtle">
            <tr className="border-b border-border">
              <th className="px-4 py-2 font-medium">Rule</th>
              <th className="px-4 py-2 font-medium">On</th>
              <th className="px-4 py-2 font-medium">Until</th>
              <th className="px-4 py-2 font-medium">By</th>
              <th className="px-4 py-2 font-medium">Comment</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {items.map((s) => <SilenceRow key={s.id} s={s} rule={ruleName(s.rule_id)} canManage={canManage} ending={end.isPending && end.variables === s.id} onEnd={() => end.mutate(s.id)} />)}
          </tbody>
        </table>
      )}
    </Card>
  )
}

function SilenceRow({ s, rule, canManage, ending, onEnd }: { s: Silence; rule: string; canManage: boolean; ending: boolean; onEnd: () => void }) {
  const state = s.deleted ? 'ended' : s.active ? null : 'expired'
  return (
    <tr className="border-b border-border last:border-0" data-silence={s.id}>
      <td className="px-4 py-2">{rule}</td>
      <td className="px-4 py-2 font-mono text-xs" title={s.scope_id ?? ''}>{s.scope_id ? shortId(s.scope_id) : 'anything'}</td>
      <td className="px-4 py-2 text-xs text-muted" title={s.until}>
        {state ?? new Date(s.until).toLocaleString()}
      </td>
      <td className="px-4 py-2 text-xs text-muted">{s.by} · {timeAgo(s.created_at)}</td>
      <td className="px-4 py-2 text-xs text-muted">{s.comment}</td>
      <td className="px-4 py-2 text-right">
        {canManage && s.active && (
          <Button size="sm" variant="ghost" loading={ending} onClick={onEnd}>End</Button>
        )}
      </td>
    </tr>
  )
}
