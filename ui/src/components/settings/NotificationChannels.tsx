/**
 * Settings → Notifications: the notification channels alert notices go to. A webhook is
 * signed with a secret that is written here and never shown again (the API does not return
 * it); e-mail goes through the SMTP server of the fleet settings below. "Test" sends a
 * notice now and shows what happened.
 */
import { useState, type FormEvent } from 'react'
import { Plus, Send, Trash2 } from 'lucide-react'
import { alerting, useAlertingChange, useChannels, type Channel, type ChannelType, type Severity } from '../../lib/api/alerts'
import { useCan } from '../../lib/api/security'
import { Card } from '../ui/Card'
import { Button } from '../ui/Button'
import { EmptyState, ErrorState, Spinner } from '../ui/Feedback'
import { cn, timeAgo } from '../../lib/format'
import { toast } from '../../stores/ui'

const input = 'h-8 rounded-md border border-border bg-bg px-2 text-sm text-fg outline-none focus:border-accent'
const SEVERITIES: Severity[] = ['info', 'warning', 'critical']

export function NotificationChannels() {
  const channels = useChannels()
  const canManage = useCan('alert.manage')
  return (
    <Card title="Notification channels" bodyClassName="p-0">
      {canManage && <NewChannel />}
      {channels.isPending ? (
        <Spinner label="Loading channels…" />
      ) : channels.isError ? (
        <ErrorState error={channels.error} onRetry={() => channels.refetch()} title="Could not load channels" />
      ) : channels.data.items.length === 0 ? (
        <EmptyState title="No notification channels">Alert notices go only to the webhook and e-mail of the fleet settings below, if set.</EmptyState>
      ) : (
        <table className="w-full text-sm" aria-label="Notification channels">
          <thead className="text-left text-xs text-subtle">
            <tr className="border-b border-border">
              <th className="px-4 py-2 font-medium">Name</th>
              <th className="px-4 py-2 font-medium">Sends to</th>
              <th className="px-4 py-2 font-medium">From severity</th>
              <th className="px-4 py-2 font-medium">Last test</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {channels.data.items.map((c) => <ChannelRow key={c.id} c={c} canManage={canManage} />)}
          </tbody>
        </table>
      )}
    </Card>
  )
}

function NewChannel() {
  const [name, setName] = useState('')
  const [type, setType] = useState<ChannelType>('webhook')
  const [url, setUrl] = useState('')
  const [secret, setSecret] = useState('')
  const [to, setTo] = useState('')
  const [minSeverity, setMinSeverity] = useState<Severity>('warning')
  const create = useAlertingChange(alerting.createChannel, 'channels', 'Channel created')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    const body = type === 'webhook'
      ? { name, type, url, secret: secret || undefined, min_severity: minSeverity }
      : { name, type, to: to.split(',').map((a) => a.trim()).filter(Boolean), min_severity: minSeverity }
    create.mutate(body, { onSuccess: () => { setName(''); setUrl(''); setSecret(''); setTo('') } })
  }
  return (
    <form onSubmit={submit} aria-label="New channel" className="flex flex-wrap items-end gap-2 border-b border-border p-3">
      <input className={input} aria-label="Channel name" placeholder="name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={128} />
      <select className={input} aria-label="Channel type" value={type} onChange={(e) => setType(e.target.value as ChannelType)}>
        <option value="webhook">Webhook</option>
        <option value="email">E-mail</option>
      </select>
      {type === 'webhook' ? (
        <>
          <input className={cn(input, 'w-80')} aria-label="Channel URL" placeholder="https://…" type="url" value={url} onChange={(e) => setUrl(e.target.value)} required />
          <input className={input} aria-label="Channel secret" placeholder="signing secret (optional)" type="password" autoComplete="new-password" value={secret} onChange={(e) => setSecret(e.target.value)} />
        </>
      ) : (
        <input className={cn(input, 'w-80')} aria-label="Channel recipients" placeholder="ops@example.com, oncall@example.com" value={to} onChange={(e) => setTo(e.target.value)} required />
      )}
      <select className={input} aria-label="Channel minimum severity" value={minSeverity} onChange={(e) => setMinSeverity(e.target.value as Severity)}>
        {SEVERITIES.map((s) => <option key={s} value={s}>{s} and above</option>)}
      </select>
      <Button type="submit" size="sm" variant="primary" icon={<Plus className="size-3.5" />} loading={create.isPending}>Add channel</Button>
    </form>
  )
}

function ChannelRow({ c, canManage }: { c: Channel; canManage: boolean }) {
  const update = useAlertingChange(alerting.updateChannel, 'channels', 'Channel changed')
  const remove = useAlertingChange(alerting.removeChannel, 'channels', 'Channel deleted')
  const test = useAlertingChange(alerting.testChannel, 'channels')
  const t = c.last_test
  return (
    <tr className="border-b border-border align-top last:border-0" data-channel={c.name}>
      <td className="px-4 py-2">
        <div className="font-medium">{c.name}</div>
        <div className="text-xs text-muted">{c.type === 'webhook' ? (c.signed ? 'webhook, signed' : 'webhook, unsigned') : 'e-mail'}{!c.enabled && ' · disabled'}</div>
      </td>
      <td className="px-4 py-2 break-all text-xs">{c.type === 'webhook' ? c.url : c.to.join(', ')}</td>
      <td className="px-4 py-2">
        <select className={cn(input, 'h-7 text-xs')} aria-label={`Minimum severity of ${c.name}`} value={c.min_severity} disabled={!canManage}
          onChange={(e) => update.mutate({ id: c.id, body: { min_severity: e.target.value as Severity } })}>
          {SEVERITIES.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
      </td>
      <td className="px-4 py-2 text-xs" data-testid="channel-test">
        {t ? (
          <span className={t.ok ? 'text-ok' : 'text-bad'} title={t.at}>{t.ok ? 'sent' : `failed: ${t.error}`} · {timeAgo(t.at)}</span>
        ) : <span className="text-subtle">never</span>}
      </td>
      <td className="px-4 py-2 text-right whitespace-nowrap">
        {canManage && (
          <>
            <Button size="sm" icon={<Send className="size-3.5" />} loading={test.isPending}
              onClick={() => test.mutate(c.id, { onSuccess: (r) => (r.ok ? toast.success('Test notice sent', r.target) : toast.error('Test notice failed', r.error)) })}>Test</Button>
            <Button size="sm" variant="ghost" className="ml-1" loading={update.isPending} onClick={() => update.mutate({ id: c.id, body: { enabled: !c.enabled } })}>
              {c.enabled ? 'Disable' : 'Enable'}
            </Button>
            <Button size="sm" variant="danger" className="ml-1" icon={<Trash2 className="size-3.5" />} loading={remove.isPending}
              onClick={() => window.confirm(`Delete channel ${c.name}?`) && remove.mutate(c.id)}>Delete</Button>
          </>
        )}
      </td>
    </tr>
  )
}
