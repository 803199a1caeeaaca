/**
 * The host page's Network tab: the virtual networks realised (or failing to be) on this
 * host, with their state here, subnet, DHCP and how many VMs use them fleet-wide. Network
 * "default" (the host's libvirt network of that name, or user-mode networking) is always
 * available besides these.
 */
import { Link } from 'react-router'
import { Network as NetworkIcon } from 'lucide-react'
import { Card } from '../ui/Card'
import { EmptyState, ErrorState, Spinner } from '../ui/Feedback'
import { StateBadge } from '../ui/StateBadge'
import { useNetworks, type Network } from '../../lib/api/networks'
import { networksOnHost } from '../../lib/api/hosts'
import type { Host } from '../../lib/api/types'

const DEFAULT_NOTE = 'Network "default" — the host\u2019s libvirt network of that name, or user-mode networking — is always there besides these.'

function dhcpText(n: Network): string {
  if (n.type === 'bridge' || n.type === 'vlan') return 'external'
  return n.dhcp ? `${n.dhcp_start} – ${n.dhcp_end}` : 'off'
}

export function HostNetworks({ host }: { host: Host }) {
  const networks = useNetworks()
  if (networks.isPending) return <Spinner label="Loading networks…" />
  if (networks.isError && !networks.data) return <ErrorState error={networks.error} onRetry={() => networks.refetch()} title="Could not load the networks" />
  const rows = networksOnHost(networks.data?.items ?? [], host.id)
  if (!rows.length) {
    return (
      <Card>
        <EmptyState icon={<NetworkIcon className="size-5" />} title="No virtual network is realised on this host">
          {DEFAULT_NOTE} Networks are created on the{' '}
          <Link to="/networks" className="text-accent hover:underline">
            Virtual networks
          </Link>{' '}
          page and realised on every connected host.
        </EmptyState>
      </Card>
    )
  }
  return (
    <Card bodyClassName="p-0">
      <div className="overflow-x-auto">
        <table className="w-full text-sm" aria-label={`Networks on ${host.name}`}>
          <thead className="border-b border-border bg-surface-2/60 text-left text-[11px] tracking-wide text-subtle uppercase">
            <tr>
              <th className="px-3 py-2 font-medium">Network</th>
              <th className="px-3 py-2 font-medium">Type</th>
              <th className="px-3 py-2 font-medium">Subnet</th>
              <th className="px-3 py-2 font-medium">DHCP</th>
              <th className="px-3 py-2 font-medium">State here</th>
              <th className="px-3 py-2 font-medium">VMs</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ network: n, on }) => (
              <tr key={n.id} className="border-b border-border/60 last:border-0" data-network={n.name}>
                <td className="px-3 py-2 font-medium">
                  <Link to="/networks" className="hover:underline">
                    {n.name}
                  </Link>
                </td>
                <td className="px-3 py-2 text-muted">
                  {n.type}
                  {n.type === 'vlan' ? ` ${n.vlan_id}` : ''}
                  {n.bridge ? ` · ${n.bridge}` : ''}
                </td>
                <td className="px-3 py-2 font-mono text-xs">
                  {n.cidr}
                  {n.gateway && <span className="text-subtle"> via {n.gateway}</span>}
                </td>
                <td className="px-3 py-2 text-xs">{dhcpText(n)}</td>
                <td className="px-3 py-2" title={on.detail || undefined}>
                  <StateBadge state={on.state} />
                  {on.detail && on.state !== 'active' && <span className="ml-2 text-xs text-muted">{on.detail}</span>}
                </td>
                <td className="px-3 py-2 tabular-nums">{n.connected_vms}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="border-t border-border px-3 py-2 text-xs text-subtle">{DEFAULT_NOTE}</p>
    </Card>
  )
}
