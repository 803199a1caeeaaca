import { useState, type FormEvent } from 'react'
import { Link } from 'react-router'
import { Copy, KeyRound, Plus, Send, Trash2, Webhook as WebhookIcon } from 'lucide-react'
import { Button } from '../components/ui/Button'
import { Card, PageHeader } from '../components/ui/Card'
import { EmptyState, ErrorState, Spinner } from '../components/ui/Feedback'
import { useCan } from '../lib/api/security'
import {
  useDeliveries,
  useWebhookChange,
  useWebhooks,
  webhooks,
  type CreatedWebhook,
  type Delivery,
  type Webhook,
} from '../lib/api/webhooks'

const input = 'h-8 rounded-md border border-border bg-bg px-2 text-sm text-fg outline-none focus:border-accent'

function patterns(text: string): string[] {
  return text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean)
}

/** Settings → Webhooks: subscriptions, their secret (shown once) and the delivery log. */
export default function Webhooks() {
  const list = useWebhooks()
  const [open, setOpen] = useState<string | null>(null)
  const [created, setCreated] = useState<CreatedWebhook | null>(null)
  if (!useCan('webhook.manage')) {
    return <EmptyState title="Webhooks need the webhook.manage permission" />
  }
  return (
    <div className="space-y-4">
      <PageHeader
        title="Webhooks"
        icon={<WebhookIcon className="size-5" />}
        subtitle="Events POSTed, signed with HMAC, to your HTTP(S) endpoints"
        actions={<Link to="/settings" className="text-sm text-muted hover:text-fg">← Settings</Link>}
      />
      <NewWebhook onCreated={setCreated} />
      {created && <SecretOnce created={created} onDone={() => setCreated(null)} />}
      <Card title="Subscriptions" bodyClassName="p-0">
        {list.isPending ? <Spinner /> : list.isError ? <ErrorState error={list.error} /> : list.data.items.length === 0 ? (
          <EmptyState title="No webhook subscriptions yet" />
        ) : (
          <table className="w-full text-sm" aria-label="Webhooks">
            <thead className="text-left text-xs text-muted">
              <tr><th className="px-3 py-2">Name</th><th className="px-3 py-2">URL</th><th className="px-3 py-2">Filters</th><th className="px-3 py-2">Delivered</th><th className="px-3 py-2">Failed</th><th className="px-3 py-2">Pending</th><th /></tr>
            </thead>
            <tbody>
              {list.data.items.map((w) => (
                <Row key={w.id} w={w} open={open === w.id} onToggle={() => setOpen(open === w.id ? null : w.id)} onSecret={setCreated} />
              ))}
            </tbody>
          </table>
        )}
      </Card>
      {open && <Deliveries id={open} name={list.data?.items.find((w) => w.id === open)?.name ?? open} />}
    </div>
  )
}

function NewWebhook({ onCreated }: { onCreated: (c: CreatedWebhook) => void }) {
  const [name, setName] = useState('')
  const [url, setUrl] = useState('')
  const [kinds, setKinds] = useState('')
  const [types, setTypes] = useState('')
  const create = useWebhookChange(webhooks.create, 'Webhook created')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate(
      { name, url, kinds: patterns(kinds), types: patterns(types) },
      { onSuccess: (c) => { onCreated(c); setName(''); setUrl(''); setKinds(''); setTypes('') } },
    )
  }
  return (
    <Card title="New webhook">
      <form onSubmit={submit} className="flex flex-wrap items-end gap-2" aria-label="New webhook">
        <input className={input} placeholder="name" aria-label="Webhook name" value={name} onChange={(e) => setName(e.target.value)} required />
        <input className={`${input} min-w-72 flex-1`} placeholder="https://example.com/hook" aria-label="Webhook URL" type="url" value={url} onChange={(e) => setUrl(e.target.value)} required />
        <input className={input} placeholder="kinds: vm, host (all)" aria-label="Webhook kinds" value={kinds} onChange={(e) => setKinds(e.target.value)} />
        <input className={input} placeholder="types: vm.*, task.failed (all)" aria-label="Webhook types" value={types} onChange={(e) => setTypes(e.target.value)} />
        <Button type="submit" size="sm" variant="primary" icon={<Plus className="size-3.5" />} loading={create.isPending}>Subscribe</Button>
      </form>
    </Card>
  )
}

function SecretOnce({ created, onDone }: { created: CreatedWebhook; onDone: () => void }) {
  return (
    <Card title="Signing secret — shown only now" className="border-warn/40">
      <p className="mb-2 text-sm text-muted">Receivers check <code>X-LimiQuantix-Signature</code> with it (docs/webhooks.md). It cannot be shown again.</p>
      <div className="flex items-center gap-2">
        <code className="rounded bg-surface-2 px-2 py-1 text-xs" data-testid="webhook-secret">{created.secret}</code>
        <Button size="sm" icon={<Copy className="size-3.5" />} onClick={() => void navigator.clipboard?.writeText(created.secret)}>Copy</Button>
        <Button size="sm" variant="ghost" onClick={onDone}>I stored it</Button>
      </div>
    </Card>
  )
}

function Row({ w, open, onToggle, onSecret }: { w: Webhook; open: boolean; onToggle: () => void; onSecret: (c: CreatedWebhook) => void }) {
  const update = useWebhookChange(webhooks.update, w.enabled ? 'Webhook disabled' : 'Webhook enabled')
  const remove = useWebhookChange(webhooks.remove, 'Webhook deleted')
  const test = useWebhookChange(webhooks.test, 'Test delivery queued')
  const rotate = useWebhookChange(webhooks.rotateSecret, 'New signing secret')
  const filters = [...w.kinds.map((k) => `kind ${k}`), ...w.types.map((t) => `type ${t}`)]
  return (
    <tr className="border-t border-border" data-webhook={w.name}>
      <td className="px-3 py-2 font-medium text-fg">
        <button className="hover:underline" onClick={onToggle} aria-expanded={open}>{w.name}</button>
        {!w.enabled && <span className="ml-2 text-xs text-muted">disabled</span>}
      </td>
      <td className="max-w-80 truncate px-3 py-2 text-muted" title={w.url}>{w.url}</td>
      <td className="px-3 py-2 text-xs text-muted">{filters.length ? filters.join(', ') : 'every event'}</td>
      <td className="px-3 py-2">{w.deliveries.delivered}</td>
      <td className={`px-3 py-2 ${w.failures ? 'text-bad' : ''}`}>{w.failures}</td>
      <td className="px-3 py-2">{w.deliveries.pending}</td>
      <td className="px-3 py-2 text-right">
        <div className="flex justify-end gap-1">
          <Button size="sm" variant="ghost" onClick={onToggle}>{open ? 'Hide log' : 'Deliveries'}</Button>
          <Button size="sm" variant="ghost" icon={<Send className="size-3.5" />} disabled={!w.enabled} onClick={() => test.mutate(w.id)}>Test</Button>
          <Button size="sm" variant="ghost" icon={<KeyRound className="size-3.5" />} onClick={() => window.confirm(`Replace the signing secret of ${w.name}? The old one stops working at once.`) && rotate.mutate(w.id, { onSuccess: onSecret })}>Rotate secret</Button>
          <Button size="sm" variant="ghost" onClick={() => update.mutate({ id: w.id, body: { enabled: !w.enabled } })}>{w.enabled ? 'Disable' : 'Enable'}</Button>
          <Button size="sm" variant="danger" icon={<Trash2 className="size-3.5" />} onClick={() => window.confirm(`Delete webhook ${w.name}?`) && remove.mutate(w.id)}>Delete</Button>
        </div>
      </td>
    </tr>
  )
}

const STATUS_STYLE: Record<Delivery['status'], string> = {
  delivered: 'text-ok',
  failed: 'text-bad',
  pending: 'text-warn',
  cancelled: 'text-muted',
}

function Deliveries({ id, name }: { id: string; name: string }) {
  const [status, setStatus] = useState('')
  const [cursors, setCursors] = useState<string[]>([])
  const page = useDeliveries(id, status, cursors[cursors.length - 1])
  return (
    <Card
      title={`Deliveries of ${name}`}
      bodyClassName="p-0"
      actions={
        <select className={input} aria-label="Delivery status" value={status} onChange={(e) => { setStatus(e.target.value); setCursors([]) }}>
          <option value="">all</option>
          {['pending', 'delivered', 'failed', 'cancelled'].map((s) => <option key={s}>{s}</option>)}
        </select>
      }
    >
      {page.isPending ? <Spinner /> : page.isError ? <ErrorState error={page.error} /> : page.data.items.length === 0 ? (
        <EmptyState title="No deliveries" />
      ) : (
        <>
          <table className="w-full text-sm" aria-label="Deliveries">
            <thead className="text-left text-xs text-muted">
              <tr><th className="px-3 py-2">Seq</th><th className="px-3 py-2">Event</th><th className="px-3 py-2">Status</th><th className="px-3 py-2">Attempts</th><th className="px-3 py-2">Answer</th><th className="px-3 py-2">Created</th></tr>
            </thead>
            <tbody>
              {page.data.items.map((d) => (
                <tr key={d.id} className="border-t border-border align-top" data-delivery={d.id}>
                  <td className="px-3 py-2 text-muted">{d.seq}</td>
                  <td className="px-3 py-2">{d.event_type}<div className="text-xs text-muted">{d.aggregate_kind} {d.aggregate_id}</div></td>
                  <td className={`px-3 py-2 ${STATUS_STYLE[d.status]}`}>{d.status}</td>
                  <td className="px-3 py-2" title={d.attempt_log.map((a) => `#${a.n} ${a.response_code ?? '—'} ${a.error} (${a.duration_ms} ms)`).join('\n')}>{d.attempts}</td>
                  <td className="px-3 py-2 text-muted">{d.response_code ?? '—'}{d.error && <div className="text-xs">{d.error}</div>}</td>
                  <td className="px-3 py-2 text-muted">{new Date(d.created_at).toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="flex justify-end gap-2 border-t border-border p-2">
            <Button size="sm" disabled={!cursors.length} onClick={() => setCursors(cursors.slice(0, -1))}>Newer</Button>
            <Button size="sm" disabled={!page.data.next_cursor} onClick={() => page.data.next_cursor && setCursors([...cursors, page.data.next_cursor])}>Older</Button>
          </div>
        </>
      )}
    </Card>
  )
}
