/**
 * Settings API (docs/settings.md). Fleet settings are one event-sourced aggregate (kind
 * `settings`, id `fleet`): its query key `['settings', 'fleet']` is what the live-changes
 * stream marks stale when anyone changes a setting. Process settings are static for the
 * life of the controlplane process and never refetched on changes.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api } from './client'
import { useCan } from './security'

export type SettingGroup = 'general' | 'notifications' | 'security' | 'storage' | 'network'
export type SettingValue = string | number | boolean | null

export interface FleetSetting {
  key: string
  group: SettingGroup
  type: 'int' | 'float' | 'str' | 'choice' | 'emails' | 'host' | 'id'
  label: string
  help: string
  value: SettingValue
  default: SettingValue
  changed: boolean
  changed_by: string | null
  changed_at: string | null
  minimum: number | null
  maximum: number | null
  choices: string[]
  unit: string
  process_setting: string | null
}

export interface FleetSettings {
  items: FleetSetting[]
  seq: number
  changed_keys?: string[]
}

export interface ProcessSetting {
  name: string
  value: SettingValue
  source: string
  secret: boolean
}

export const settingsKeys = {
  fleet: ['settings', 'fleet'] as const,
  process: ['settings-process'] as const,
}

export function useFleetSettings(enabled = true) {
  return useQuery({
    queryKey: settingsKeys.fleet,
    queryFn: ({ signal }) => api.get<FleetSettings>('/settings', undefined, signal),
    enabled,
  })
}

/**
 * The pool or network a new disk or NIC gets when it names none: fleet setting `key`
 * (`default_pool_id`, `default_network_id`) when set and readable, else "default" (the
 * host's own), which is also what the server applies then.
 */
export function useFleetDefaultId(key: 'default_pool_id' | 'default_network_id'): string {
  const fleet = useFleetSettings(useCan('settings.read'))
  const value = fleet.data?.items.find((s) => s.key === key)?.value
  return typeof value === 'string' && value ? value : 'default'
}

export function useProcessSettings(enabled = true) {
  return useQuery({
    queryKey: settingsKeys.process,
    queryFn: ({ signal }) => api.get<{ items: ProcessSetting[] }>('/settings/process', undefined, signal),
    enabled,
    staleTime: Infinity,
  })
}

/** Change fleet settings, all or nothing; the answer is the new state, cached at once. */
export function useSaveSettings() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: (patch: Record<string, SettingValue>) => api.request<FleetSettings>('PATCH', '/settings', { body: patch }),
    onSuccess: (data) => {
      qc.setQueryData(settingsKeys.fleet, data)
      void qc.invalidateQueries({ queryKey: [...settingsKeys.fleet, 'history'] })
    },
  })
}

/**
 * What an input's text means for a setting: the typed value, or an error to show before
 * anything is sent (the server checks again and answers a problem for what it refuses).
 */
export function parseSetting(s: FleetSetting, raw: string): { value: SettingValue } | { error: string } {
  const text = raw.trim()
  if (s.type === 'int' || s.type === 'float') {
    if (text === '') return { error: 'A number is required' }
    const n = Number(text)
    if (!Number.isFinite(n)) return { error: 'Not a number' }
    if (s.type === 'int' && !Number.isInteger(n)) return { error: 'A whole number is required' }
    if (s.minimum !== null && n < s.minimum) return { error: `At least ${s.minimum}` }
    if (s.maximum !== null && n > s.maximum) return { error: `At most ${s.maximum}` }
    return { value: n }
  }
  if (s.type === 'choice' && !s.choices.includes(text)) return { error: `One of ${s.choices.join(', ')}` }
  if (s.type === 'emails' && text) {
    const bad = text.split(',').map((p) => p.trim()).find((p) => !/^[^@\s,]+@[^@\s,]+$/.test(p))
    if (bad !== undefined) return { error: `${bad || '(empty)'} is not an e-mail address` }
  }
  return { value: text }
}

/** The value as an input shows it. */
export function settingText(v: SettingValue): string {
  return v === null || v === undefined ? '' : String(v)
}
