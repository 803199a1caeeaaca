/** /alerts: open alerts by severity, filters and search, acknowledge and resolve; silences;
 * and (?tab=rules) the alert rules: enable, edit, add, reset, delete. */
import { useState } from 'react'
import { Link, useSearchParams } from 'react-router'
import { AlertOctagon, AlertTriangle, BellOff, BellRing, Check, CheckCheck, Info, Search } from 'lucide-react'
import { useAlertAction, useAlerts, type Alert, type Severity } from '../lib/api/alerts'
import { Silences, type SilenceDraft } from '../components/alerts/Silences'
import { AlertRules } from '../components/alerts/AlertRules'
import { Tabs } from '../components/ui/Tabs'
import { Card, PageHeader } from '../components/ui/Card'
import { Button } from '../components/ui/Button'
import { EmptyState, ErrorState, Spinner } from '../components/ui/Feedback'
import { cn, shortId, timeAgo } from '../lib/format'

const SEVERITY: Record<Severity, { label: string; icon: typeof Info; tone: string }> = {
  critical: { label: 'Critical', icon: AlertOctagon, tone: 'text-bad' },
  warning: { label: 'Warning', icon: AlertTriangle, tone: 'text-warn' },
  info: { label: 'Info', icon: Info, tone: 'text-info' },
}
const STATUSES = [
  ['open', 'Open'],
  ['firing', 'Firing'],
  ['acknowledged', 'Acknowledged'],
  ['resolved', 'Resolved'],
  ['', 'All'],
] as const

export default function Alerts() {
  const [params, setParams] = useSearchParams()
  const tab = params.get('tab') === 'rules' ? 'rules' : 'alerts'
  return (
    <>
      <PageHeader title="Alerts" icon={<BellRing className="size-5" />} subtitle="Rules over metrics and events; every change is an event, updated live." />
      <Tabs<'alerts' | 'rules'>
        className="mb-4"
        tabs={[{ key: 'alerts', label: 'Alerts' }, { key: 'rules', label: 'Rules' }]}
        value={tab}
        onChange={(k) => setParams(k === 'alerts' ? {} : { tab: k }, { replace: true })}
      />
      {tab === 'rules' ? <AlertRules /> : <AlertList />}
    </>
  )
}

function AlertList() {
  const [status, setStatus] = useState('open')
  const [severity, setSeverity] = useState('')
  const [q, setQ] = useState('')
  const alerts = useAlerts({ status, severity, q })
  const counts = alerts.data?.open_by_severity
  const [draft, setDraft] = useState<SilenceDraft | null>(null)
  return (
    <>
      <div className="mb-4 grid gap-4 sm:grid-cols-3">
        {(Object.keys(SEVERITY) as Severity[]).map((s) => {
          const { label, icon: Icon, tone } = SEVERITY[s]
          return (
            <button key={s} onClick={() => setSeverity(severity === s ? '' : s)} className="text-left" aria-pressed={severity === s}>
              <Card className={cn(severity === s && 'ring-1 ring-accent')}>
                <div className="flex items-center gap-3">
                  <Icon className={cn('size-6', tone)} />
                  <div>
                    <div className="text-xs text-muted">{label} open</div>
                    <div className="text-2xl font-semibold tabular-nums" data-testid={`open-${s}`}>{counts ? counts[s] : '—'}</div>
                  </div>
                </div>
              </Card>
            </button>
          )
        })}
      </div>
      <div className="mb-3 flex flex-wrap items-center gap-2">
        <div role="radiogroup" aria-label="Status" className="inline-flex rounded-md border border-border bg-surface p-0.5">
          {STATUSES.map(([key, label]) => (
            <button key={key} role="radio" aria-checked={status === key} onClick={() => setStatus(key)}
              className={cn('rounded px-2.5 py-1 text-xs', status === key ? 'bg-accent-soft font-medium text-fg' : 'text-muted hover:text-fg')}>
              {label}
            </button>
          ))}
        </div>
        <label className="ml-auto flex items-center gap-2 rounded-md border border-border bg-surface px-2 py-1 text-sm">
          <Search className="size-4 text-subtle" />
          <input value={q} onChange={(e) => setQ(e.target.value)} placeholder="Search rule, message, id…" className="w-64 bg-transparent outline-none" aria-label="Search alerts" />
        </label>
      </div>
      {alerts.isPending ? (
        <Spinner label="Loading alerts…" />
      ) : alerts.isError && !alerts.data ? (
        <ErrorState error={alerts.error} onRetry={() => alerts.refetch()} title="Could not load alerts" />
      ) : alerts.data!.items.length === 0 ? (
        <EmptyState icon={<CheckCheck className="size-6" />} title="No alerts here">Nothing matches these filters.</EmptyState>
      ) : (
        <Card bodyClassName="p-0">
          <AlertTable items={alerts.data!.items} onSilence={(a) => setDraft({ rule_id: a.rule_id, scope_id: a.scope_id, n: Date.now() })} />
        </Card>
      )}
      <div className="mt-4">
        <Silences draft={draft} />
      </div>
    </>
  )
}

function scopeLink(a: Alert) {
  const to = a.scope_kind === 'host' ? `/hosts/${a.scope_id}` : a.scope_kind === 'vm' ? `/vms/${a.scope_id}` : `/tasks/${a.scope_id}`
  return (
    <Link to={to} className="text-accent hover:underline">
      {a.scope_kind} {shortId(a.scope_id)}
    </Link>
  )
}

function AlertTable({ items, onSilence }: { items: Alert[]; onSilence: (a: Alert) => void }) {
  const action = useAlertAction()
  return (
    <table className="w-full text-sm" data-testid="alerts-table">
      <thead className="text-left text-xs text-subtle">
        <tr className="border-b border-border">
          <th className="px-4 py-2 font-medium">Severity</th>
          <th className="px-4 py-2 font-medium">Alert</th>
          <th className="px-4 py-2 font-medium">On</th>
          <th className="px-4 py-2 font-medium">Status</th>
          <th className="px-4 py-2 font-medium">Fired</th>
          <th className="px-4 py-2 font-medium" />
        </tr>
      </thead>
      <tbody>
        {items.map((a) => {
          const { label, icon: Icon, tone } = SEVERITY[a.severity]
          const busy = action.isPending && action.variables?.id === a.id
          return (
            <tr key={a.id} className="border-b border-border align-top last:border-0" data-alert={a.rule_id}>
              <td className={cn('px-4 py-2', tone)}>
                <span className="inline-flex items-center gap-1.5"><Icon className="size-4" />{label}</span>
              </td>
              <td className="px-4 py-2">
                <div className="font-medium">{a.rule_name}</div>
                <div className="text-xs text-muted">{a.message}</div>
                {a.silenced && <div className="text-xs text-subtle">silenced: not notified</div>}
                {a.notifications.length > 0 && (
                  <div className="text-xs text-subtle">
                    {a.notifications.map((n, i) => (
                      <span key={i} className={cn('mr-2', !n.ok && 'text-bad')}>
                        {n.channel} {n.target} {n.about}: {n.ok ? 'sent' : `failed (${n.error})`} · {n.attempts}×
                      </span>
                    ))}
                  </div>
                )}
              </td>
              <td className="px-4 py-2">{scopeLink(a)}</td>
              <td className="px-4 py-2 text-xs">
                <div className="capitalize">{a.status}</div>
                {a.acknowledged_by && <div className="text-subtle">by {a.acknowledged_by}</div>}
                {a.resolved_by && <div className="text-subtle">{a.automatic ? 'cleared by itself' : `by ${a.resolved_by}`}</div>}
              </td>
              <td className="px-4 py-2 text-xs text-muted" title={a.fired_at}>{timeAgo(a.fired_at)}</td>
              <td className="px-4 py-2 text-right whitespace-nowrap">
                {a.status === 'firing' && (
                  <Button size="sm" icon={<Check className="size-3.5" />} loading={busy} onClick={() => action.mutate({ id: a.id, verb: 'acknowledge' })}>
                    Acknowledge
                  </Button>
                )}
                {a.status !== 'resolved' && (
                  <Button size="sm" variant="ghost" className="ml-1" loading={busy} onClick={() => action.mutate({ id: a.id, verb: 'resolve' })}>
                    Resolve
                  </Button>
                )}
                {a.status !== 'resolved' && (
                  <Button size="sm" variant="ghost" className="ml-1" icon={<BellOff className="size-3.5" />} onClick={() => onSilence(a)}>
                    Silence
                  </Button>
                )}
              </td>
            </tr>
          )
        })}
      </tbody>
    </table>
  )
}
