/** /monitoring: quick stats, the host performance table, live charts and the busiest VMs. */
import { useState } from 'react'
import { Link } from 'react-router'
import { Activity, Cpu, MemoryStick, Network, Server } from 'lucide-react'
import { useHosts, useVms } from '../lib/api/hooks'
import { formatUnit, useLatest, type LatestSample, type MetricRange } from '../lib/api/metrics'
import { Card, PageHeader } from '../components/ui/Card'
import { EmptyState, ErrorState, Spinner } from '../components/ui/Feedback'
import { UsageBar } from '../components/ui/UsageBar'
import { MetricChart } from '../components/metrics/MetricChart'
import { RangePicker } from '../components/metrics/MonitoringPanel'
import { cn, shortId, timeAgo } from '../lib/format'

const FRESH_MS = 60_000

export default function Monitoring() {
  const hosts = useLatest('host', { sort: 'ts', limit: 1000 })
  const inventory = useHosts({ limit: 500, sort: 'name' })
  const names = new Map((inventory.data?.items ?? []).map((h) => [h.id, h.name]))
  const [selected, setSelected] = useState<string | null>(null)
  const [range, setRange] = useState<MetricRange>('15m')
  const rows = [...(hosts.data?.items ?? [])].sort((a, b) => (names.get(a.id) ?? a.id).localeCompare(names.get(b.id) ?? b.id))
  const current = selected ?? rows[0]?.id ?? null
  return (
    <>
      <PageHeader title="Monitoring" icon={<Activity className="size-5" />} subtitle="Host and VM performance as the agents sample it, refreshed every few seconds." />
      {hosts.isPending ? (
        <Spinner label="Loading metrics…" />
      ) : hosts.isError && !hosts.data ? (
        <ErrorState error={hosts.error} onRetry={() => hosts.refetch()} title="Could not load metrics" />
      ) : rows.length === 0 ? (
        <EmptyState icon={<Activity className="size-6" />} title="No metrics yet">
          Host agents publish a sample every few seconds once they are enrolled.
        </EmptyState>
      ) : (
        <div className="flex flex-col gap-4">
          <QuickStats rows={rows} />
          <Card title="Host performance" bodyClassName="p-0">
            <HostPerformance rows={rows} names={names} selected={current} onSelect={setSelected} />
          </Card>
          {current && (
            <>
              <div className="flex items-center justify-between">
                <h2 className="text-sm font-semibold">
                  Live: <Link to={`/hosts/${current}`} className="text-accent hover:underline">{names.get(current) ?? shortId(current)}</Link>
                </h2>
                <RangePicker value={range} onChange={setRange} />
              </div>
              <div className="grid gap-4 xl:grid-cols-2">
                <MetricChart entity="hosts" id={current} metric="cpu" range={range} />
                <MetricChart entity="hosts" id={current} metric="memory" range={range} />
              </div>
            </>
          )}
          <TopVms />
        </div>
      )}
    </>
  )
}

function fresh(s: LatestSample): boolean {
  return Date.now() - new Date(s.ts).getTime() < FRESH_MS
}

function avg(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null)
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null
}

function sum(values: (number | null)[]): number {
  return values.reduce<number>((a, b) => a + (b ?? 0), 0)
}

function QuickStats({ rows }: { rows: LatestSample[] }) {
  const live = rows.filter(fresh)
  const used = sum(live.map((r) => r.mem_used_mib))
  const total = sum(live.map((r) => r.mem_total_mib))
  const stat = (icon: React.ReactNode, label: string, value: string, extra?: React.ReactNode) => (
    <Card>
      <div className="flex items-center gap-3">
        <div className="rounded-md bg-accent-soft p-2 text-accent">{icon}</div>
        <div className="min-w-0 flex-1">
          <div className="text-xs text-muted">{label}</div>
          <div className="text-lg font-semibold tabular-nums" data-testid={`stat-${label}`}>{value}</div>
          {extra}
        </div>
      </div>
    </Card>
  )
  return (
    <div className="grid gap-4 sm:grid-cols-2 xl:grid-cols-4">
      {stat(<Server className="size-4" />, 'Hosts reporting', `${live.length} / ${rows.length}`)}
      {stat(<Cpu className="size-4" />, 'Average host CPU', formatUnit(avg(live.map((r) => r.cpu_pct)), '%'))}
      {stat(<MemoryStick className="size-4" />, 'Memory in use', `${formatUnit(used, 'MiB')} of ${formatUnit(total, 'MiB')}`, <UsageBar used={used} capacity={total} compact className="mt-1" />)}
      {stat(<Network className="size-4" />, 'Guest network', `↓ ${formatUnit(sum(live.map((r) => r.net_rx_bps)), 'B/s')} ↑ ${formatUnit(sum(live.map((r) => r.net_tx_bps)), 'B/s')}`)}
    </div>
  )
}

function HostPerformance({ rows, names, selected, onSelect }: { rows: LatestSample[]; names: Map<string, string>; selected: string | null; onSelect: (id: string) => void }) {
  return (
    <table className="w-full text-sm" data-testid="host-performance">
      <thead className="text-left text-xs text-subtle">
        <tr className="border-b border-border">
          <th className="px-4 py-2 font-medium">Host</th>
          <th className="px-4 py-2 font-medium">CPU</th>
          <th className="px-4 py-2 font-medium">Memory</th>
          <th className="px-4 py-2 font-medium">Load</th>
          <th className="px-4 py-2 font-medium">Network ↓ / ↑</th>
          <th className="px-4 py-2 font-medium">Last sample</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr
            key={r.id}
            onClick={() => onSelect(r.id)}
            className={cn('cursor-pointer border-b border-border last:border-0 hover:bg-surface-2', r.id === selected && 'bg-accent-soft')}
          >
            <td className="px-4 py-2">
              <Link to={`/hosts/${r.id}`} className="text-accent hover:underline" onClick={(e) => e.stopPropagation()}>
                {names.get(r.id) ?? shortId(r.id)}
              </Link>
            </td>
            <td className="w-48 px-4 py-2">
              <UsageBar used={r.cpu_pct ?? 0} capacity={100} compact />
              <span className="text-xs tabular-nums text-muted">{formatUnit(r.cpu_pct, '%')}</span>
            </td>
            <td className="w-48 px-4 py-2">
              <UsageBar used={r.mem_used_mib ?? 0} capacity={r.mem_total_mib ?? 0} compact />
              <span className="text-xs tabular-nums text-muted">
                {formatUnit(r.mem_used_mib, 'MiB')} / {formatUnit(r.mem_total_mib, 'MiB')}
              </span>
            </td>
            <td className="px-4 py-2 tabular-nums">{formatUnit(r.load1, '')}</td>
            <td className="px-4 py-2 tabular-nums">
              {formatUnit(r.net_rx_bps, 'B/s')} / {formatUnit(r.net_tx_bps, 'B/s')}
            </td>
            <td className={cn('px-4 py-2 text-xs', fresh(r) ? 'text-muted' : 'text-warn')}>{timeAgo(r.ts)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function TopVms() {
  const top = useLatest('vm', { sort: '-cpu_pct', limit: 10 })
  const vms = useVms({ limit: 500, sort: 'name' })
  const names = new Map((vms.data?.items ?? []).map((v) => [v.id, v.name]))
  const items = top.data?.items ?? []
  return (
    <Card title="Busiest VMs" bodyClassName="p-0">
      {items.length === 0 ? (
        <p className="px-4 py-6 text-sm text-muted">No running VM has reported yet.</p>
      ) : (
        <table className="w-full text-sm" data-testid="top-vms">
          <thead className="text-left text-xs text-subtle">
            <tr className="border-b border-border">
              <th className="px-4 py-2 font-medium">VM</th>
              <th className="px-4 py-2 font-medium">CPU</th>
              <th className="px-4 py-2 font-medium">Memory</th>
              <th className="px-4 py-2 font-medium">Disk r / w</th>
              <th className="px-4 py-2 font-medium">Network ↓ / ↑</th>
            </tr>
          </thead>
          <tbody>
            {items.map((v) => (
              <tr key={v.id} className="border-b border-border last:border-0">
                <td className="px-4 py-2">
                  <Link to={`/vms/${v.id}`} className="text-accent hover:underline">{names.get(v.id) ?? shortId(v.id)}</Link>
                </td>
                <td className="px-4 py-2 tabular-nums">{formatUnit(v.cpu_pct, '%')}</td>
                <td className="px-4 py-2 tabular-nums">{formatUnit(v.mem_used_mib, 'MiB')}</td>
                <td className="px-4 py-2 tabular-nums">
                  {formatUnit(v.disk_rd_bps, 'B/s')} / {formatUnit(v.disk_wr_bps, 'B/s')}
                </td>
                <td className="px-4 py-2 tabular-nums">
                  {formatUnit(v.net_rx_bps, 'B/s')} / {formatUnit(v.net_tx_bps, 'B/s')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  )
}
