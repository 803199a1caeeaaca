/**
 * Settings → Security: one-time host join tokens (docs/security.md, "Enrolment").
 *
 * Create a token (label, lifetime), see it once to copy it into `lq agent --join-token`,
 * list every token with its state (active, used by which host, revoked, expired) and
 * revoke an unused one. The list never holds a secret: the API stores only digests.
 */
import { useState, type FormEvent } from 'react'
import { Plus, Trash2 } from 'lucide-react'
import { Button } from '../ui/Button'
import { Card } from '../ui/Card'
import { EmptyState, ErrorState, Spinner } from '../ui/Feedback'
import { describeError } from '../../lib/api/errors'
import { security, useJoinTokens, useSecurityChange, type NewJoinToken } from '../../lib/api/security'
import { toast } from '../../stores/ui'

const input = 'h-8 rounded-md border border-border bg-bg px-2 text-sm text-fg outline-none focus:border-accent'

export function JoinTokens() {
  const tokens = useJoinTokens()
  const [label, setLabel] = useState('')
  const [hours, setHours] = useState(24)
  const [shown, setShown] = useState<NewJoinToken | null>(null)
  const create = useSecurityChange(security.createJoinToken)
  const revoke = useSecurityChange(security.revokeJoinToken, 'Join token revoked')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate({ label, expires_in_s: Math.round(hours * 3600) }, { onSuccess: (t) => { setShown(t); setLabel('') } })
  }
  return (
    <Card title="Host join tokens" bodyClassName="p-0">
      <form onSubmit={submit} className="flex flex-wrap items-center gap-2 border-b border-border p-3" aria-label="New join token">
        <input className={input} placeholder="label, e.g. rack 4" aria-label="Join token label" maxLength={128} value={label} onChange={(e) => setLabel(e.target.value)} />
        <label className="flex items-center gap-1 text-xs text-muted">
          expires in
          <input className={`${input} w-20`} type="number" min={1} max={720} aria-label="Expires in hours" value={hours} onChange={(e) => setHours(Number(e.target.value))} />
          hours
        </label>
        <Button type="submit" size="sm" variant="primary" icon={<Plus className="size-3.5" />} loading={create.isPending}>Create join token</Button>
      </form>
      {shown && (
        <div className="m-3 space-y-1 rounded-md border border-ok/40 bg-ok/10 p-3 text-sm" role="status" data-testid="new-join-token">
          <div className="font-medium text-fg">Join token created. It admits one host and is shown only now:</div>
          <code className="block break-all rounded bg-bg px-2 py-1 text-xs text-fg" data-testid="new-join-token-value">{shown.token}</code>
          <div className="text-xs text-muted">On the new host: <code>lq agent --join-token &lt;token&gt;</code></div>
          <div className="flex gap-2">
            <Button size="sm" onClick={() => void navigator.clipboard?.writeText(shown.token).then(() => toast.success('Copied'), (e: unknown) => toast.error('Copy failed', describeError(e)))}>Copy</Button>
            <Button size="sm" variant="ghost" onClick={() => setShown(null)}>Done</Button>
          </div>
        </div>
      )}
      {tokens.isPending ? <Spinner /> : tokens.isError ? <ErrorState error={tokens.error} /> : tokens.data.items.length === 0 ? (
        <EmptyState title="No join tokens">A join token lets one new host enrol; create one per host you add.</EmptyState>
      ) : (
        <table className="w-full text-sm" aria-label="Join tokens">
          <thead className="text-left text-xs text-muted">
            <tr><th className="px-3 py-2">Label</th><th className="px-3 py-2">State</th><th className="px-3 py-2">Expires</th><th /></tr>
          </thead>
          <tbody>
            {tokens.data.items.map((t) => (
              <tr key={t.id} className="border-t border-border" data-join-token={t.label || t.id} data-state={t.state}>
                <td className="px-3 py-2 font-medium text-fg">{t.label || <span className="text-muted">{t.id.slice(0, 8)}</span>}</td>
                <td className="px-3 py-2 text-muted">{t.state === 'used' ? `used by ${t.used_by_name ?? t.used_by ?? '?'}` : t.state}</td>
                <td className="px-3 py-2 text-muted">{new Date(t.expires_at).toLocaleString()}</td>
                <td className="px-3 py-2 text-right">
                  {t.state === 'active' && (
                    <Button size="sm" variant="danger" icon={<Trash2 className="size-3.5" />} onClick={() => revoke.mutate(t.id)}>Revoke</Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  )
}
