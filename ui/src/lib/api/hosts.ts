/**
 * What the host page needs beyond the host itself: editing its labels
 * (`PATCH /hosts/{id} {labels}`, which replaces the whole set) and the storage pools and
 * virtual networks seen from one host (their per-host state, picked out of the fleet-wide
 * lists so the host page shares their cache and live refresh). Pure helpers are exported
 * for the unit tests.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { api } from './client'
import { qk } from '../queryKeys'
import { toast } from '../../stores/ui'
import type { Network, NetworkHostState } from './networks'
import type { PoolHost, StoragePool } from './storage'

/** One row of the label editor (strings as typed). */
export interface LabelRow {
  key: string
  value: string
}

// The server's rules (controlplane/api/clusters.py LabelKey/LabelValue).
const LABEL_KEY_RE = /^[A-Za-z0-9._/-]{1,63}$/
const LABEL_VALUE_RE = /^[A-Za-z0-9._-]{0,63}$/

export function labelRows(labels: Record<string, string> | null | undefined): LabelRow[] {
  return Object.entries(labels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => ({ key, value }))
}

/** `{"labels.<i>.key" | "labels.<i>.value": sentence}`; a row left wholly empty is ignored. */
export function validateLabels(rows: LabelRow[]): Record<string, string> {
  const e: Record<string, string> = {}
  const seen = new Set<string>()
  rows.forEach((r, i) => {
    const key = r.key.trim()
    const value = r.value.trim()
    if (!key && !value) return
    if (!key) e[`labels.${i}.key`] = 'Give the label a key.'
    else if (!LABEL_KEY_RE.test(key)) e[`labels.${i}.key`] = "Letters, digits, '.', '_', '-' or '/'; up to 63."
    else if (seen.has(key)) e[`labels.${i}.key`] = 'This key is already used above.'
    seen.add(key)
    if (!LABEL_VALUE_RE.test(value)) e[`labels.${i}.value`] = "Letters, digits, '.', '_' or '-'; up to 63 (may be empty)."
  })
  return e
}

/** The labels a valid set of rows stands for. */
export function toLabels(rows: LabelRow[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const r of rows) {
    const key = r.key.trim()
    if (key) out[key] = r.value.trim()
  }
  return out
}

/** Save a host's labels; a refusal is left to the caller to show (the dialog does, inline). */
export function useSetHostLabels(hostId: string) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: (labels: Record<string, string>) =>
      api.request<{ host_id: string; labels: Record<string, string>; seq: number }>('PATCH', `/hosts/${encodeURIComponent(hostId)}`, {
        body: { labels },
      }),
    onSuccess: () => {
      toast.success('Labels saved')
      void qc.invalidateQueries({ queryKey: qk.host(hostId) })
      void qc.invalidateQueries({ queryKey: qk.hosts() })
    },
  })
}

/** The pools attached to `hostId`, each with its state and sizes on that host. */
export function poolsOnHost(pools: StoragePool[], hostId: string): { pool: StoragePool; on: PoolHost }[] {
  const out: { pool: StoragePool; on: PoolHost }[] = []
  for (const pool of pools) {
    const on = pool.hosts.find((h) => h.host_id === hostId)
    if (on) out.push({ pool, on })
  }
  return out
}

/** The networks realised (or being realised) on `hostId`, each with its state there. */
export function networksOnHost(networks: Network[], hostId: string): { network: Network; on: NetworkHostState }[] {
  const out: { network: Network; on: NetworkHostState }[] = []
  for (const network of networks) {
    const on = network.hosts?.[hostId]
    if (on) out.push({ network, on })
  }
  return out
}
