/**
 * Alerts API. Alerts, silences and notification channels are events (kinds `alert`,
 * `silence`, `channel`), so their queries live under the `['alerts']`, `['silences']` and
 * `['channels']` key prefixes, which the live-changes stream invalidates: no polling.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api } from './client'
import { describeError } from './errors'
import { toast } from '../../stores/ui'

export type Severity = 'critical' | 'warning' | 'info'
export type AlertStatus = 'firing' | 'acknowledged' | 'resolved'

export interface Notification {
  channel: string
  channel_id: string | null
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

export interface Silence {
  id: string
  rule_id: string | null
  scope_id: string | null
  until: string
  by: string
  comment: string
  created_at: string
  deleted: boolean
  active: boolean
}

export interface NewSilence {
  rule_id?: string
  scope_id?: string
  duration_s: number
  comment?: string
}

export interface RuleScope {
  cluster_ids: string[]
  host_ids: string[]
  vm_ids: string[]
  labels: Record<string, string>
}

export interface AlertRule {
  id: string
  rule_id: string
  name: string
  severity: Severity
  target: 'host' | 'vm' | 'task'
  kind: 'metric' | 'event'
  metric: string
  threshold: number
  for_s: number
  clear_below: number | null
  clear_level: number
  clear_for_s: number
  fire_on: string[]
  resolve_on: string[]
  enabled: boolean
  scope: RuleScope
  /** default: shipped (or set by alert_rules_json); custom: added here. */
  origin: 'default' | 'custom'
  /** Fields of a default changed at runtime (reset returns them). */
  overridden: string[]
  seq: number
}

export type RulePatch = Partial<Pick<AlertRule, 'name' | 'enabled' | 'severity' | 'threshold' | 'for_s' | 'clear_for_s' | 'scope'>>

export type NewRule = Pick<AlertRule, 'name' | 'severity' | 'target' | 'kind' | 'for_s' | 'scope'> &
  Partial<Pick<AlertRule, 'metric' | 'threshold' | 'fire_on' | 'resolve_on' | 'enabled'>>

/** What a custom rule can watch (the engine's metrics and events). */
export const RULE_METRICS = ['cpu_pct', 'mem_pct'] as const
export const RULE_EVENTS: Record<string, AlertRule['target']> = {
  'host.disconnected': 'host',
  'host.connected': 'host',
  'task.failed': 'task',
  'vm.ha_restarted': 'vm',
  'vm.ha_restart_failed': 'vm',
  'vm.started': 'vm',
}

export function useSilences() {
  return useQuery({
    queryKey: ['silences'],
    queryFn: ({ signal }) => api.get<{ items: Silence[] }>('/silences', undefined, signal),
  })
}

/** Rules are events of kind `alert_rule`: the live stream invalidates `['alert_rules']`. */
export function useAlertRules() {
  return useQuery({
    queryKey: ['alert_rules'],
    queryFn: ({ signal }) => api.get<{ items: AlertRule[] }>('/alert-rules', undefined, signal),
  })
}

const rulePath = (id: string) => `/alert-rules/${encodeURIComponent(id)}`
type RuleAnswer = { rule_id: string; seq: number }

export const rules = {
  create: (body: NewRule) => api.request<AlertRule>('POST', '/alert-rules', { body }),
  update: (v: { id: string; body: RulePatch }) => api.request<RuleAnswer>('PATCH', rulePath(v.id), { body: v.body }),
  reset: (id: string) => api.request<RuleAnswer>('POST', `${rulePath(id)}/actions/reset`, { body: {} }),
  remove: (id: string) => api.request<RuleAnswer>('DELETE', rulePath(id)),
}

/** A change to a rule: toast, then refresh the rules (and alerts it may have resolved). */
export function useRuleChange<V, R = unknown>(fn: (v: V) => Promise<R>, done?: string) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: fn,
    onSuccess: () => {
      if (done) toast.success(done)
      void qc.invalidateQueries({ queryKey: ['alert_rules'] })
      void qc.invalidateQueries({ queryKey: ['alerts'] })
    },
    onError: (e) => toast.error('The rule was not changed', describeError(e)),
  })
}

export type ChannelType = 'webhook' | 'email'

export interface Channel {
  id: string
  name: string
  type: ChannelType
  url: string | null
  to: string[]
  min_severity: Severity
  enabled: boolean
  signed: boolean
  created_at: string
  seq: number
  last_test: { ok: boolean; target: string; attempts: number; error: string; at: string } | null
}

export interface NewChannel {
  name: string
  type: ChannelType
  url?: string
  secret?: string
  to?: string[]
  min_severity: Severity
}

export type ChannelPatch = Partial<Pick<Channel, 'name' | 'min_severity' | 'enabled'>> & { url?: string; to?: string[]; secret?: string }

export interface ChannelTest {
  channel_id: string
  ok: boolean
  target: string
  attempts: number
  error: string
  seq: number
}

export function useChannels() {
  return useQuery({
    queryKey: ['channels'],
    queryFn: ({ signal }) => api.get<{ items: Channel[]; total: number }>('/notification-channels', undefined, signal),
  })
}

const channelPath = (id: string) => `/notification-channels/${encodeURIComponent(id)}`

export const alerting = {
  createSilence: (body: NewSilence) => api.request<{ silence_id: string; seq: number }>('POST', '/silences', { body }),
  endSilence: (id: string) => api.request<{ silence_id: string; seq: number }>('DELETE', `/silences/${encodeURIComponent(id)}`),
  createChannel: (body: NewChannel) => api.request<Channel & { seq: number }>('POST', '/notification-channels', { body }),
  updateChannel: (v: { id: string; body: ChannelPatch }) => api.request<{ channel_id: string; seq: number }>('PATCH', channelPath(v.id), { body: v.body }),
  removeChannel: (id: string) => api.request<{ channel_id: string; seq: number }>('DELETE', channelPath(id)),
  testChannel: (id: string) => api.request<ChannelTest>('POST', `${channelPath(id)}/actions/test`, { body: {} }),
}

/** A change to silences or channels: toast, then refresh what it touched. */
export function useAlertingChange<V, R = unknown>(fn: (v: V) => Promise<R>, key: 'silences' | 'channels', done?: string) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: fn,
    onSuccess: () => {
      if (done) toast.success(done)
      void qc.invalidateQueries({ queryKey: [key] })
    },
    onError: (e) => toast.error(key === 'silences' ? 'The silence was not changed' : 'The channel was not changed', describeError(e)),
  })
}
