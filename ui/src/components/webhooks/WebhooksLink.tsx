import { Link } from 'react-router'
import { Webhook as WebhookIcon } from 'lucide-react'
import { useCan } from '../../lib/api/security'

/** The way from Settings to Settings → Webhooks, for callers who may manage webhooks. */
export function WebhooksLink() {
  const can = useCan('webhook.manage')
  if (!can) return null
  return (
    <Link
      to="/settings/webhooks"
      className="inline-flex h-8 items-center gap-2 rounded-md border border-border px-3 text-sm text-muted hover:bg-surface-2 hover:text-fg"
    >
      <WebhookIcon className="size-4" /> Webhooks
    </Link>
  )
}
