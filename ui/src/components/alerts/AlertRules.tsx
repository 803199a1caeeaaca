/**
 * Alert rules on the Alerts page: every rule in force with an enable switch, an edit
 * dialog (threshold, duration, severity, scope), "Reset" for a shipped rule that was
 * changed and "Delete" for a custom one, and a dialog to add a custom rule. Each change
 * is an event of kind `alert_rule`; the engine applies it to the next sample or event.
 */
import { useState, type FormEvent } from 'react'
import { Pencil, Plus, RotateCcw, SlidersHorizontal, Trash2 } from 'lucide-react'
import {
  RULE_EVENTS,
  RULE_METRICS,
  rules as ruleApi,
  useAlertRules,
  useRuleChange,
  type AlertRule,
  type NewRule,
  type RuleScope,
  type Severity,
} from '../../lib/api/alerts'
import { useCan } from '../../lib/api/security'
import { Card } from '../ui/Card'
import { Button } from '../ui/Button'
import { Dialog } from '../ui/Dialog'
import { EmptyState, ErrorState, Spinner } from '../ui/Feedback'
import { FormField, ProblemBox, inputClass, selectClass } from '../ui/Form'

const SEVERITIES: Severity[] = ['critical', 'warning', 'info']

function condition(r: AlertRule): string {
  if (r.kind === 'metric') return `${r.target} ${r.metric} > ${r.threshold} for ${r.for_s}s (clears ≤ ${+r.clear_level.toFixed(2)} for ${r.clear_for_s}s)`
  return `on ${r.fire_on.join(', ')}${r.resolve_on.length ? `; resolves on ${r.resolve_on.join(', ')}` : ''}`
}

function scopeText(s: RuleScope): string {
  const parts = [
    s.cluster_ids.length && `clusters ${s.cluster_ids.join(', ')}`,
    s.host_ids.length && `hosts ${s.host_ids.join(', ')}`,
    s.vm_ids.length && `VMs ${s.vm_ids.join(', ')}`,
    Object.keys(s.labels).length && `labels ${Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(', ')}`,
  ].filter(Boolean)
  return parts.length ? parts.join('; ') : 'everything'
}

export function AlertRules() {
  const list = useAlertRules()
  const canManage = useCan('alert.manage')
  const [editing, setEditing] = useState<AlertRule | 'new' | null>(null)
  const toggle = useRuleChange(ruleApi.update)
  const reset = useRuleChange(ruleApi.reset, 'Rule reset to its shipped form')
  const remove = useRuleChange(ruleApi.remove, 'Rule deleted')
  return (
    <Card
      title={<span className="inline-flex items-center gap-2"><SlidersHorizontal className="size-4" />Alert rules</span>}
      bodyClassName="p-0"
      actions={canManage && <Button size="sm" variant="primary" icon={<Plus className="size-3.5" />} onClick={() => setEditing('new')}>New rule</Button>}
    >
      {list.isPending ? (
        <Spinner label="Loading rules…" />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => list.refetch()} title="Could not load the alert rules" />
      ) : list.data.items.length === 0 ? (
        <EmptyState title="No alert rules">Add one to be told when something goes wrong.</EmptyState>
      ) : (
        <table className="w-full text-sm" aria-label="Alert rules">
          <thead className="text-left text-xs text-subtle">
            <tr className="border-b border-border">
              <th className="px-4 py-2 font-medium">On</th>
              <th className="px-4 py-2 font-medium">Rule</th>
              <th className="px-4 py-2 font-medium">Severity</th>
              <th className="px-4 py-2 font-medium">Scope</th>
              <th className="px-4 py-2 font-medium">Origin</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((r) => (
              <tr key={r.rule_id} className="border-b border-border align-top last:border-0" data-rule={r.rule_id}>
                <td className="px-4 py-2">
                  <input type="checkbox" className="size-4 accent-[var(--lq-accent)]" aria-label={`Enable ${r.rule_id}`} checked={r.enabled}
                    disabled={!canManage || (toggle.isPending && toggle.variables?.id === r.rule_id)}
                    onChange={(e) => toggle.mutate({ id: r.rule_id, body: { enabled: e.target.checked } })} />
                </td>
                <td className="px-4 py-2">
                  <div className="font-medium">{r.name}</div>
                  <div className="text-xs text-muted" data-testid="rule-condition">{condition(r)}</div>
                  <div className="font-mono text-[11px] text-subtle">{r.rule_id}</div>
                </td>
                <td className="px-4 py-2 capitalize">{r.severity}</td>
                <td className="px-4 py-2 text-xs text-muted">{scopeText(r.scope)}</td>
                <td className="px-4 py-2 text-xs text-muted">
                  {r.origin === 'custom' ? 'custom' : r.overridden.length ? `default, changed: ${r.overridden.join(', ')}` : 'default'}
                </td>
                <td className="px-4 py-2 text-right whitespace-nowrap">
                  {canManage && (
                    <>
                      <Button size="sm" variant="ghost" icon={<Pencil className="size-3.5" />} onClick={() => setEditing(r)}>Edit</Button>
                      {r.origin === 'default' && r.overridden.length > 0 && (
                        <Button size="sm" variant="ghost" className="ml-1" icon={<RotateCcw className="size-3.5" />} loading={reset.isPending && reset.variables === r.rule_id} onClick={() => reset.mutate(r.rule_id)}>Reset</Button>
                      )}
                      {r.origin === 'custom' && (
                        <Button size="sm" variant="ghost" className="ml-1" icon={<Trash2 className="size-3.5" />} loading={remove.isPending && remove.variables === r.rule_id}
                          onClick={() => window.confirm(`Delete the rule ${r.name}? Its open alerts are resolved.`) && remove.mutate(r.rule_id)}>Delete</Button>
                      )}
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && <RuleDialog rule={editing === 'new' ? null : editing} onClose={() => setEditing(null)} />}
    </Card>
  )
}

const ids = (text: string) => text.split(/[\s,]+/).filter(Boolean)
const labelsOf = (text: string) =>
  Object.fromEntries(ids(text).map((kv) => [kv.split('=')[0], kv.split('=').slice(1).join('=')]))

/** Create a custom rule (``rule`` null) or edit one: only what differs is sent. */
function RuleDialog({ rule, onClose }: { rule: AlertRule | null; onClose: () => void }) {
  const [name, setName] = useState(rule?.name ?? '')
  const [kind, setKind] = useState<AlertRule['kind']>(rule?.kind ?? 'metric')
  const [target, setTarget] = useState<AlertRule['target']>(rule?.target ?? 'host')
  const [metric, setMetric] = useState(rule?.metric || 'cpu_pct')
  const [fireOn, setFireOn] = useState(rule?.fire_on[0] ?? 'host.disconnected')
  const [threshold, setThreshold] = useState(String(rule?.threshold ?? 90))
  const [forS, setForS] = useState(String(rule?.for_s ?? 300))
  const [severity, setSeverity] = useState<Severity>(rule?.severity ?? 'warning')
  const [clusters, setClusters] = useState(rule?.scope.cluster_ids.join(', ') ?? '')
  const [hosts, setHosts] = useState(rule?.scope.host_ids.join(', ') ?? '')
  const [vms, setVms] = useState(rule?.scope.vm_ids.join(', ') ?? '')
  const [labels, setLabels] = useState(Object.entries(rule?.scope.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', '))
  const create = useRuleChange(ruleApi.create, 'Rule added')
  const update = useRuleChange(ruleApi.update, 'Rule changed')
  const pending = create.isPending || update.isPending
  const scope: RuleScope = { cluster_ids: ids(clusters), host_ids: ids(hosts), vm_ids: ids(vms), labels: labelsOf(labels) }
  const metricRule = kind === 'metric'

  const submit = (e: FormEvent) => {
    e.preventDefault()
    const done = { onSuccess: onClose }
    if (rule === null) {
      const body: NewRule = { name, severity, target, kind, for_s: Number(forS), scope }
      if (metricRule) Object.assign(body, { metric, threshold: Number(threshold) })
      else Object.assign(body, { fire_on: [fireOn] })
      create.mutate(body, done)
      return
    }
    const body: Record<string, unknown> = {}
    if (name !== rule.name) body.name = name
    if (severity !== rule.severity) body.severity = severity
    if (Number(forS) !== rule.for_s) body.for_s = Number(forS)
    if (metricRule && Number(threshold) !== rule.threshold) body.threshold = Number(threshold)
    if (JSON.stringify(scope) !== JSON.stringify(rule.scope)) body.scope = scope
    update.mutate({ id: rule.rule_id, body }, done)
  }

  return (
    <Dialog open onClose={onClose} width="max-w-xl" title={rule ? `Edit rule ${rule.name}` : 'New alert rule'}
      description={rule ? `${rule.rule_id} · ${condition(rule)}` : 'A metric above a threshold for a while, or an event.'}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" form="rule-form" variant="primary" loading={pending}>{rule ? 'Save rule' : 'Add rule'}</Button>
        </>
      }
    >
      <form id="rule-form" aria-label={rule ? 'Edit rule' : 'New rule'} onSubmit={submit} className="grid grid-cols-2 gap-3">
        <FormField label="Rule name" className="col-span-2">
          <input className={inputClass} value={name} onChange={(e) => setName(e.target.value)} required maxLength={128} />
        </FormField>
        {rule === null && (
          <>
            <FormField label="Rule kind">
              <select className={selectClass} value={kind} onChange={(e) => setKind(e.target.value as AlertRule['kind'])}>
                <option value="metric">metric threshold</option>
                <option value="event">event</option>
              </select>
            </FormField>
            {metricRule ? (
              <>
                <FormField label="Rule target">
                  <select className={selectClass} value={target} onChange={(e) => setTarget(e.target.value as AlertRule['target'])}>
                    <option value="host">host</option>
                    <option value="vm">VM</option>
                  </select>
                </FormField>
                <FormField label="Rule metric">
                  <select className={selectClass} value={metric} onChange={(e) => setMetric(e.target.value)}>
                    {RULE_METRICS.map((m) => <option key={m} value={m}>{m}</option>)}
                  </select>
                </FormField>
              </>
            ) : (
              <FormField label="Rule fires on">
                <select className={selectClass} value={fireOn} onChange={(e) => { setFireOn(e.target.value); setTarget(RULE_EVENTS[e.target.value]) }}>
                  {Object.keys(RULE_EVENTS).map((t) => <option key={t} value={t}>{t}</option>)}
                </select>
              </FormField>
            )}
          </>
        )}
        {metricRule && (
          <FormField label="Rule threshold" hint="percent; fires above it">
            <input className={inputClass} type="number" min={0} max={100} step="any" value={threshold} onChange={(e) => setThreshold(e.target.value)} required />
          </FormField>
        )}
        {metricRule && (
          <FormField label="Rule duration" hint="seconds above the threshold before firing">
            <input className={inputClass} type="number" min={0} max={604800} step="any" value={forS} onChange={(e) => setForS(e.target.value)} required />
          </FormField>
        )}
        <FormField label="Rule severity">
          <select className={selectClass} value={severity} onChange={(e) => setSeverity(e.target.value as Severity)}>
            {SEVERITIES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </FormField>
        <FormField label="Scope clusters" hint="ids, comma-separated; empty: any">
          <input className={inputClass} value={clusters} onChange={(e) => setClusters(e.target.value)} />
        </FormField>
        <FormField label="Scope hosts" hint="ids; empty: any">
          <input className={inputClass} value={hosts} onChange={(e) => setHosts(e.target.value)} />
        </FormField>
        <FormField label="Scope VMs" hint="ids; empty: any">
          <input className={inputClass} value={vms} onChange={(e) => setVms(e.target.value)} />
        </FormField>
        <FormField label="Scope host labels" hint="key=value, comma-separated; all must match">
          <input className={inputClass} value={labels} onChange={(e) => setLabels(e.target.value)} />
        </FormField>
        <div className="col-span-2">
          <ProblemBox error={create.error ?? update.error} />
        </div>
      </form>
    </Dialog>
  )
}
