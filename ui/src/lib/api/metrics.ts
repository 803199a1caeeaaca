/**
 * Monitoring API: chart series and latest samples (docs/api.md "Monitoring").
 *
 * Metrics are not events, so they never arrive on the live-changes WebSocket: these
 * queries refetch on a short interval instead (see docs/ui.md "Live charts"), sized to
 * the range on screen — every few seconds for 15 minutes, every few minutes for 30 days.
 */
import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { api } from './client'

export type MetricKind = 'cpu' | 'memory' | 'disk' | 'net'
export type MetricRange = '15m' | '1h' | '6h' | '1d' | '7d' | '30d'
export type Entity = 'vms' | 'hosts'

export const RANGES: MetricRange[] = ['15m', '1h', '6h', '1d', '7d', '30d']

export interface SeriesDef {
  key: string
  label: string
  unit: string
}

export interface MetricPoint {
  t: number
  [key: string]: number | null
}

export interface MetricSeries {
  id: string
  kind: 'vm' | 'host'
  metric: MetricKind
  range: MetricRange
  resolution: 'raw' | '1m' | '1h'
  step_s: number
  from: number
  to: number
  series: SeriesDef[]
  points: MetricPoint[]
}

export interface LatestSample {
  id: string
  host_id: string | null
  ts: string
  cpu_pct: number | null
  load1: number | null
  mem_used_mib: number | null
  mem_total_mib: number | null
  mem_rss_mib: number | null
  mem_pct?: number | null
  disk_rd_bps: number | null
  disk_wr_bps: number | null
  net_rx_bps: number | null
  net_tx_bps: number | null
  stor_used: number | null
  stor_cap: number | null
}

export interface PoolUsage {
  name: string
  ts: string
  capacity_bytes: number
  allocation_bytes: number
  available_bytes: number
}

/** How often a chart of this range asks again (ms). */
export function refreshFor(range: MetricRange): number {
  return { '15m': 5_000, '1h': 10_000, '6h': 30_000, '1d': 60_000, '7d': 300_000, '30d': 300_000 }[range]
}

export const mk = {
  series: (entity: Entity, id: string, metric: MetricKind, range: MetricRange) => ['metrics', entity, id, metric, range] as const,
  latest: (kind: 'host' | 'vm', hostId?: string) => ['metrics', 'latest', kind, hostId ?? ''] as const,
  pools: (hostId: string) => ['metrics', 'pools', hostId] as const,
}

export function useMetricSeries(entity: Entity, id: string, metric: MetricKind, range: MetricRange) {
  return useQuery({
    queryKey: mk.series(entity, id, metric, range),
    queryFn: ({ signal }) =>
      api.get<MetricSeries>(`/${entity}/${encodeURIComponent(id)}/metrics`, { metric, range }, signal),
    refetchInterval: refreshFor(range),
    staleTime: 0,
    placeholderData: keepPreviousData,
  })
}

export function useLatest(kind: 'host' | 'vm', opts: { hostId?: string; sort?: string; limit?: number } = {}) {
  return useQuery({
    queryKey: [...mk.latest(kind, opts.hostId), opts.sort ?? '-cpu_pct', opts.limit ?? 100],
    queryFn: ({ signal }) =>
      api.get<{ items: LatestSample[] }>(
        '/metrics/latest',
        { kind, host_id: opts.hostId, sort: opts.sort ?? '-cpu_pct', limit: opts.limit ?? 100 },
        signal,
      ),
    refetchInterval: 5_000,
    staleTime: 0,
    placeholderData: keepPreviousData,
  })
}

export function useHostPools(hostId: string) {
  return useQuery({
    queryKey: mk.pools(hostId),
    queryFn: ({ signal }) => api.get<{ items: PoolUsage[] }>(`/hosts/${encodeURIComponent(hostId)}/pools`, undefined, signal),
    refetchInterval: 30_000,
    staleTime: 0,
  })
}

/** A value with its unit, for axes, tooltips and tables. */
export function formatUnit(value: number | null | undefined, unit: string): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—'
  switch (unit) {
    case '%':
      return `${value.toFixed(value < 10 ? 1 : 0)}%`
    case 'B/s':
      return `${formatBytes(value)}/s`
    case 'B':
      return formatBytes(value)
    case 'MiB':
      return formatBytes(value * 1024 * 1024)
    case '':
      return value.toFixed(2)
    default:
      return `${value < 10 ? value.toFixed(1) : Math.round(value).toLocaleString()} ${unit}`
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let v = Math.abs(n)
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  const s = v >= 100 || i === 0 ? Math.round(v).toString() : v.toFixed(1)
  return `${n < 0 ? '-' : ''}${s} ${units[i]}`
}
