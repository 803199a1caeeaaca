/**
 * Webhook subscriptions API (docs/webhooks.md). Subscriptions are events (kind `webhook`),
 * refreshed after every change; the delivery log is not (it records what receivers
 * answered), so the open log polls while it is on screen.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api } from './client'
import { describeError } from './errors'
import { toast } from '../../stores/ui'

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'cancelled'

export interface Webhook {
  id: string
  name: string
  url: string
  kinds: string[]
  types: string[]
  enabled: boolean
  created_at: string
  created_by: string
  updated_at: string
  seq: number
  secret_rotated_at: string | null
  deliveries: Record<DeliveryStatus, number> & { last_finished_at: string | null }
  failures: number
}

export interface Attempt {
  n: number
  at: string
  response_code: number | null
  error: string
  duration_ms: number
}

export interface Delivery {
  id: string
  event_id: string
  event_type: string
  aggregate_kind: string
  aggregate_id: string
  seq: number
  status: DeliveryStatus
  attempts: number
  response_code: number | null
  error: string
  created_at: string
  next_attempt_at: string | null
  finished_at: string | null
  attempt_log: Attempt[]
}

export interface NewWebhook {
  name: string
  url: string
  kinds: string[]
  types: string[]
  enabled?: boolean
}

export interface CreatedWebhook {
  webhook_id: string
  secret: string
  seq: number
}

const keys = {
  all: ['webhooks'] as const,
  deliveries: (id: string, status: string) => ['webhooks', id, 'deliveries', status] as const,
}

export function useWebhooks() {
  return useQuery({
    queryKey: keys.all,
    queryFn: ({ signal }) => api.get<{ items: Webhook[]; total: number }>('/webhooks', undefined, signal),
    refetchInterval: 5000, // delivery counts change without events
  })
}

export function useDeliveries(id: string, status: string, cursor?: string) {
  return useQuery({
    queryKey: [...keys.deliveries(id, status), cursor ?? ''],
    queryFn: ({ signal }) =>
      api.get<{ items: Delivery[]; next_cursor: string | null }>(
        `/webhooks/${encodeURIComponent(id)}/deliveries`,
        { status: status || undefined, cursor, limit: 25 },
        signal,
      ),
    placeholderData: keepPreviousData,
    refetchInterval: 5000,
  })
}

export const webhooks = {
  create: (body: NewWebhook) => api.request<CreatedWebhook>('POST', '/webhooks', { body }),
  update: (v: { id: string; body: Partial<NewWebhook> }) =>
    api.request<{ webhook_id: string; seq: number }>('PATCH', `/webhooks/${encodeURIComponent(v.id)}`, { body: v.body }),
  remove: (id: string) => api.request<{ webhook_id: string; seq: number }>('DELETE', `/webhooks/${encodeURIComponent(id)}`),
  rotateSecret: (id: string) =>
    api.request<CreatedWebhook>('POST', `/webhooks/${encodeURIComponent(id)}/actions/rotate-secret`, { body: {} }),
  test: (id: string) =>
    api.request<{ webhook_id: string; seq: number; delivery_id: string }>('POST', `/webhooks/${encodeURIComponent(id)}/actions/test`, { body: {} }),
}

/** A webhook change: toast on success or failure, then refresh subscriptions and logs. */
export function useWebhookChange<V, R = unknown>(fn: (v: V) => Promise<R>, done?: string) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: fn,
    onSuccess: () => {
      if (done) toast.success(done)
      void qc.invalidateQueries({ queryKey: keys.all })
    },
    onError: (e) => toast.error('The webhook was not changed', describeError(e)),
  })
}
