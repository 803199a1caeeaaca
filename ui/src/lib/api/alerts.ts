/**
 * Alerts API. Alerts are events (kind `alert`), so their queries live under the `['alerts']`
 * key prefix, which the live-changes stream invalidates like any other kind: no polling.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api } from './client'
import { describeError } from './errors'
import { toast } from '../../stores/ui'

export type Severity = 'critical' | 'warning' | 'info'
export type AlertStatus = 'firing' | 'acknowledged' | 'resolved'

export interface Notification {
  channel: string
  target: string
  about: AlertStatus
  ok: boolean
  attempts: number
  error: string
  at: string
}

export interface Alert {
  id: string
  rule_id: string
  rule_name: string
  severity: Severity
  scope_kind: 'host' | 'vm' | 'task'
  scope_id: string
  status: AlertStatus
  episode: number
  episodes: number
  message: string
  value: number | null
  threshold: number | null
  silenced: boolean
  fired_at: string
  acknowledged_by: string | null
  acknowledged_at: string | null
  resolved_by: string | null
  resolved_at: string | null
  automatic: boolean | null
  notifications: Notification[]
  seq: number
}

export interface AlertPage {
  items: Alert[]
  total: number
  open_by_severity: Record<Severity, number>
}

export interface AlertFilters {
  status?: string
  severity?: string
  q?: string
}

export function useAlerts(filters: AlertFilters) {
  return useQuery({
    queryKey: ['alerts', filters],
    queryFn: ({ signal }) => api.get<AlertPage>('/alerts', { ...filters }, signal),
    placeholderData: keepPreviousData,
  })
}

export function useAlertAction() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: ({ id, verb }: { id: string; verb: 'acknowledge' | 'resolve' }) =>
      api.request<{ alert_id: string; seq: number }>('POST', `/alerts/${encodeURIComponent(id)}/actions/${verb}`, { body: {} }),
    onSuccess: (_r, { verb }) => {
      toast.success(verb === 'acknowledge' ? 'Alert acknowledged' : 'Alert resolved')
      void qc.invalidateQueries({ queryKey: ['alerts'] })
    },
    onError: (e) => toast.error('The alert was not changed', describeError(e)),
  })
}
