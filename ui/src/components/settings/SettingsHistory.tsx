/**
 * The last fleet-setting changes (`settings.changed` events): who changed which key from
 * what to what. The whole history is in the audit log, like every other event.
 */
import { Link } from 'react-router'
import { useQuery } from '@tanstack/react-query'
import { Card } from '../ui/Card'
import { ErrorState, Spinner } from '../ui/Feedback'
import { api } from '../../lib/api/client'
import type { LqEvent, Page } from '../../lib/api/types'
import { settingText, type SettingValue } from '../../lib/api/settings'

export function SettingsHistory() {
  const events = useQuery({
    queryKey: ['settings', 'fleet', 'history'],
    queryFn: ({ signal }) => api.get<Page<LqEvent>>('/events', { type: 'settings.changed', order: 'desc', limit: 10 }, signal),
  })
  return (
    <Card title="Recent changes" actions={<Link to="/audit" className="text-xs text-muted hover:text-fg">Audit log →</Link>} bodyClassName="p-0">
      {events.isPending ? <Spinner /> : events.isError ? <ErrorState error={events.error} /> : events.data.items.length === 0 ? (
        <p className="px-4 py-3 text-sm text-muted">No fleet setting was changed yet: every value is its default.</p>
      ) : (
        <ul className="divide-y divide-border text-sm" aria-label="Recent setting changes">
          {events.data.items.map((e) => (
            <li key={e.event_id} className="flex flex-wrap gap-x-2 px-4 py-2">
              <code className="text-fg">{String(e.data.key)}</code>
              <span className="text-muted">{settingText(e.data.old as SettingValue) || '(empty)'} → {settingText(e.data.new as SettingValue) || '(empty)'}</span>
              <span className="ml-auto text-xs text-subtle">{e.actor ?? ''} · {new Date(e.occurred_at).toLocaleString()}</span>
            </li>
          ))}
        </ul>
      )}
    </Card>
  )
}
