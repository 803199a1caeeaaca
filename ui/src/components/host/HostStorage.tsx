/**
 * The host page's Storage tab: the storage pools attached to this host, each with its state
 * and sizes as this host reported them (a shared pool shows this host's view of it). The
 * agent's own pool "default" is always there and is not a pool of the fleet list.
 */
import { Link } from 'react-router'
import { Database } from 'lucide-react'
import { Card } from '../ui/Card'
import { EmptyState, ErrorState, Spinner } from '../ui/Feedback'
import { StateBadge } from '../ui/StateBadge'
import { UsageBar } from '../ui/UsageBar'
import { formatBytes, useStoragePools } from '../../lib/api/storage'
import { poolsOnHost } from '../../lib/api/hosts'
import type { Host } from '../../lib/api/types'

const DEFAULT_NOTE = 'Pool "default" — the host\u2019s own directory pool (libvirt pool lq-default) — is always there besides these.'

export function HostStorage({ host }: { host: Host }) {
  const pools = useStoragePools()
  if (pools.isPending) return <Spinner label="Loading storage pools…" />
  if (pools.isError && !pools.data) return <ErrorState error={pools.error} onRetry={() => pools.refetch()} title="Could not load the storage pools" />
  const rows = poolsOnHost(pools.data?.items ?? [], host.id)
  if (!rows.length) {
    return (
      <Card>
        <EmptyState icon={<Database className="size-5" />} title="No storage pool is attached to this host">
          {DEFAULT_NOTE} Attach a pool on the{' '}
          <Link to="/storage" className="text-accent hover:underline">
            Storage pools
          </Link>{' '}
          page.
        </EmptyState>
      </Card>
    )
  }
  return (
    <Card bodyClassName="p-0">
      <div className="overflow-x-auto">
        <table className="w-full text-sm" aria-label={`Storage pools on ${host.name}`}>
          <thead className="border-b border-border bg-surface-2/60 text-left text-[11px] tracking-wide text-subtle uppercase">
            <tr>
              <th className="px-3 py-2 font-medium">Pool</th>
              <th className="px-3 py-2 font-medium">Type</th>
              <th className="px-3 py-2 font-medium">State here</th>
              <th className="w-56 px-3 py-2 font-medium">On this host</th>
              <th className="px-3 py-2 font-medium">Free here</th>
              <th className="w-56 px-3 py-2 font-medium">Pool allocated</th>
              <th className="px-3 py-2 font-medium">Volumes</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ pool, on }) => (
              <tr key={pool.id} className="border-b border-border/60 last:border-0" data-pool={pool.name}>
                <td className="px-3 py-2 font-medium">
                  <Link to={`/volumes?pool_id=${encodeURIComponent(pool.id)}`} className="hover:underline">
                    {pool.name}
                  </Link>
                </td>
                <td className="px-3 py-2 text-muted">
                  {pool.type} · {pool.shared ? `shared (${pool.host_count} hosts)` : 'local'}
                </td>
                <td className="px-3 py-2">
                  <StateBadge state={on.state} />
                  {on.error && <span className="ml-2 text-xs text-bad">{on.error}</span>}
                </td>
                <td className="px-3 py-2">
                  <UsageBar compact used={on.allocation_bytes} capacity={on.capacity_bytes} label={`${formatBytes(on.allocation_bytes)} of ${formatBytes(on.capacity_bytes)}`} />
                </td>
                <td className="px-3 py-2 tabular-nums">{formatBytes(on.available_bytes)}</td>
                <td className="px-3 py-2" data-pool-allocated>
                  <UsageBar compact used={pool.allocated_bytes} capacity={pool.limit_bytes} label={`${formatBytes(pool.allocated_bytes)} of ${formatBytes(pool.limit_bytes)}`} />
                </td>
                <td className="px-3 py-2 tabular-nums">{pool.volume_count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="border-t border-border px-3 py-2 text-xs text-subtle">{DEFAULT_NOTE}</p>
    </Card>
  )
}
