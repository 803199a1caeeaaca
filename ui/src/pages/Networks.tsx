import { useState, type FormEvent } from 'react'
import { Link } from 'react-router'
import { Network as NetworkIcon, Plus, Trash2 } from 'lucide-react'
import { Button } from '../components/ui/Button'
import { PageHeader } from '../components/ui/Card'
import { Dialog } from '../components/ui/Dialog'
import { EmptyState, ErrorState, Spinner } from '../components/ui/Feedback'
import { FormField, ProblemBox, inputClass, selectClass } from '../components/ui/Form'
import { StateBadge } from '../components/ui/StateBadge'
import { useHosts } from '../lib/api/hooks'
import { useCan } from '../lib/api/security'
import {
  NETWORK_TYPES,
  networking,
  useNetwork,
  useNetworkChange,
  useNetworks,
  type Network,
  type NetworkType,
} from '../lib/api/networks'

const TYPE_LABEL: Record<NetworkType, string> = { isolated: 'Isolated', nat: 'NAT', bridge: 'Bridged', vlan: 'VLAN' }

/** Virtual networks: type filter chips, a table with DHCP and host state, connected VMs. */
export default function Networks() {
  const [types, setTypes] = useState<NetworkType[]>([])
  const networks = useNetworks(types)
  const [creating, setCreating] = useState(false)
  const [open, setOpen] = useState<string | null>(null)
  const canManage = useCan('network.manage')
  const toggle = (t: NetworkType) => setTypes((cur) => (cur.includes(t) ? cur.filter((x) => x !== t) : [...cur, t]))
  return (
    <div className="space-y-4">
      <PageHeader
        title="Virtual networks"
        icon={<NetworkIcon className="size-5" />}
        subtitle="Subnets, DHCP and the VMs on them, realised on every host"
        actions={
          <div className="flex gap-2">
            <Link to="/security-groups" className="text-sm text-muted hover:text-fg">Security groups →</Link>
            {canManage && <Button variant="primary" icon={<Plus className="size-4" />} onClick={() => setCreating(true)}>New network</Button>}
          </div>
        }
      />
      <div className="flex flex-wrap gap-2" role="group" aria-label="Filter by type">
        {NETWORK_TYPES.map((t) => (
          <button key={t} type="button" aria-pressed={types.includes(t)} onClick={() => toggle(t)}
            className={`rounded-full border px-3 py-1 text-xs ${types.includes(t) ? 'border-accent bg-accent/15 text-fg' : 'border-border text-muted hover:text-fg'}`}>
            {TYPE_LABEL[t]}
          </button>
        ))}
      </div>
      {networks.isPending ? <Spinner /> : networks.isError ? <ErrorState error={networks.error} /> : networks.data.items.length === 0 ? (
        <EmptyState title={types.length ? 'No networks of these types' : 'No virtual networks yet'} icon={<NetworkIcon className="size-6" />}>
          Create a network and attach VM NICs to it.
        </EmptyState>
      ) : (
        <div className="overflow-x-auto rounded-lg border border-border">
          <table className="w-full text-sm" aria-label="Virtual networks">
            <thead className="bg-surface-2 text-left text-xs text-muted">
              <tr>
                <th className="px-3 py-2">Name</th><th className="px-3 py-2">Type</th><th className="px-3 py-2">Subnet</th>
                <th className="px-3 py-2">Gateway</th><th className="px-3 py-2">DHCP</th><th className="px-3 py-2">Hosts</th>
                <th className="px-3 py-2">VMs</th><th className="px-3 py-2" />
              </tr>
            </thead>
            <tbody>
              {networks.data.items.map((n) => (
                <NetworkRow key={n.id} net={n} canManage={canManage} expanded={open === n.id} onToggle={() => setOpen(open === n.id ? null : n.id)} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CreateNetwork open={creating} onClose={() => setCreating(false)} />
    </div>
  )
}

function hostSummary(n: Network): string {
  const states = Object.values(n.hosts)
  if (states.length === 0) return 'not realised yet'
  const active = states.filter((h) => h.state === 'active').length
  return `${active}/${states.length} active`
}

function NetworkRow({ net, canManage, expanded, onToggle }: { net: Network; canManage: boolean; expanded: boolean; onToggle: () => void }) {
  const remove = useNetworkChange(networking.deleteNetwork, `Network ${net.name} deleted`)
  const dhcp = net.type === 'bridge' || net.type === 'vlan' ? 'external' : net.dhcp ? `${net.dhcp_start} – ${net.dhcp_end}` : 'off'
  return (
    <>
      <tr className="border-t border-border" data-network={net.name}>
        <td className="px-3 py-2 font-medium">
          <button type="button" className="hover:underline" onClick={onToggle} aria-expanded={expanded}>{net.name}</button>
        </td>
        <td className="px-3 py-2">{TYPE_LABEL[net.type]}{net.type === 'vlan' ? ` ${net.vlan_id}` : ''}</td>
        <td className="px-3 py-2 font-mono text-xs">{net.cidr}</td>
        <td className="px-3 py-2 font-mono text-xs">{net.gateway}</td>
        <td className="px-3 py-2 text-xs" data-dhcp>{dhcp}</td>
        <td className="px-3 py-2 text-xs">{hostSummary(net)}</td>
        <td className="px-3 py-2" data-connected>{net.connected_vms}</td>
        <td className="px-3 py-2 text-right">
          {canManage && (
            <Button size="sm" variant="ghost" icon={<Trash2 className="size-3.5" />} aria-label={`Delete ${net.name}`}
              onClick={() => window.confirm(`Delete network ${net.name}?`) && remove.mutate(net.id)} />
          )}
        </td>
      </tr>
      {expanded && (
        <tr className="border-t border-border bg-surface-2/40">
          <td colSpan={8} className="px-3 py-3"><NetworkDetails net={net} /></td>
        </tr>
      )}
    </>
  )
}

function NetworkDetails({ net }: { net: Network }) {
  const detail = useNetwork(net.id)
  const hosts = useHosts({ limit: 500 })
  const hostName = (id: string) => hosts.data?.items.find((h) => h.id === id)?.name ?? id
  return (
    <div className="grid gap-4 md:grid-cols-2" aria-label={`Details of ${net.name}`}>
      <div>
        <h3 className="mb-1 text-xs font-semibold uppercase text-muted">Connected VMs</h3>
        {detail.isPending ? <Spinner /> : detail.isError ? <ErrorState error={detail.error} /> : detail.data.vms.length === 0 ? (
          <div className="text-xs text-subtle">No VM NIC on this network</div>
        ) : (
          <ul className="space-y-1 text-sm" aria-label={`VMs on ${net.name}`}>
            {detail.data.vms.map((v) => (
              <li key={`${v.vm_id}/${v.nic_id}`} className="flex justify-between gap-2">
                <Link to={`/vms/${v.vm_id}`} className="hover:underline">{v.name ?? v.vm_id}</Link>
                <span className="font-mono text-xs text-muted">{v.nic_id} · {v.ip} · {v.mac}</span>
              </li>
            ))}
          </ul>
        )}
      </div>
      <div>
        <h3 className="mb-1 text-xs font-semibold uppercase text-muted">On hosts</h3>
        <ul className="space-y-1 text-sm">
          {Object.entries(net.hosts).map(([id, h]) => (
            <li key={id} className="flex justify-between gap-2" title={h.detail || undefined}>
              <span>{hostName(id)}{h.detail && <span className="ml-2 text-xs text-muted">{h.detail}</span>}</span>
              <StateBadge state={h.state} />
            </li>
          ))}
        </ul>
        <div className="mt-2 text-xs text-muted">
          DNS {net.dns.length ? net.dns.join(', ') : 'the gateway'} · MTU {net.mtu || 'default'}
          {net.bridge && ` · bridge ${net.bridge}`} · {net.reservations.length} static reservation{net.reservations.length === 1 ? '' : 's'}
        </div>
      </div>
    </div>
  )
}

function CreateNetwork({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [name, setName] = useState('')
  const [type, setType] = useState<NetworkType>('nat')
  const [cidr, setCidr] = useState('')
  const [gateway, setGateway] = useState('')
  const [dhcpStart, setDhcpStart] = useState('')
  const [dhcpEnd, setDhcpEnd] = useState('')
  const [dns, setDns] = useState('')
  const [mtu, setMtu] = useState('')
  const [vlan, setVlan] = useState('')
  const [bridge, setBridge] = useState('')
  const create = useNetworkChange(networking.createNetwork, 'Network created')
  const external = type === 'bridge' || type === 'vlan'
  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate(
      {
        name,
        type,
        cidr,
        gateway: gateway || undefined,
        dhcp_start: dhcpStart || undefined,
        dhcp_end: dhcpEnd || undefined,
        dns: dns ? dns.split(/[\s,]+/).filter(Boolean) : undefined,
        mtu: mtu ? Number(mtu) : undefined,
        vlan_id: type === 'vlan' && vlan ? Number(vlan) : undefined,
        bridge: external ? bridge : undefined,
      },
      { onSuccess: () => { onClose(); setName(''); setCidr(''); setGateway(''); setDhcpStart(''); setDhcpEnd('') } },
    )
  }
  return (
    <Dialog open={open} onClose={onClose} title="New virtual network" description="Isolated and NAT networks get their own bridge and DHCP on every host; bridged and VLAN networks join a host bridge.">
      <form onSubmit={submit} className="space-y-3" aria-label="New virtual network">
        <div className="grid grid-cols-2 gap-3">
          <FormField label="Name">
            <input className={inputClass} value={name} onChange={(e) => setName(e.target.value)} aria-label="Network name" required data-autofocus />
          </FormField>
          <FormField label="Type">
            <select className={selectClass} value={type} aria-label="Network type" onChange={(e) => setType(e.target.value as NetworkType)}>
              {NETWORK_TYPES.map((t) => <option key={t} value={t}>{TYPE_LABEL[t]}</option>)}
            </select>
          </FormField>
          <FormField label="Subnet (CIDR)">
            <input className={inputClass} placeholder="10.10.0.0/24" value={cidr} onChange={(e) => setCidr(e.target.value)} aria-label="Subnet" required />
          </FormField>
          <FormField label="Gateway" hint="empty: the first address">
            <input className={inputClass} value={gateway} onChange={(e) => setGateway(e.target.value)} aria-label="Gateway" />
          </FormField>
          <FormField label="DHCP start" hint="empty: after the gateway">
            <input className={inputClass} value={dhcpStart} onChange={(e) => setDhcpStart(e.target.value)} aria-label="DHCP start" />
          </FormField>
          <FormField label="DHCP end" hint="empty: the last address">
            <input className={inputClass} value={dhcpEnd} onChange={(e) => setDhcpEnd(e.target.value)} aria-label="DHCP end" />
          </FormField>
          <FormField label="DNS servers" hint="comma-separated">
            <input className={inputClass} value={dns} onChange={(e) => setDns(e.target.value)} aria-label="DNS servers" />
          </FormField>
          <FormField label="MTU" hint="empty: default">
            <input className={inputClass} type="number" min="576" max="9216" value={mtu} onChange={(e) => setMtu(e.target.value)} aria-label="MTU" />
          </FormField>
          {external && (
            <FormField label="Host bridge">
              <input className={inputClass} placeholder="br0" value={bridge} onChange={(e) => setBridge(e.target.value)} aria-label="Host bridge" required />
            </FormField>
          )}
          {type === 'vlan' && (
            <FormField label="VLAN id" hint="1–4094">
              <input className={inputClass} type="number" min="1" max="4094" value={vlan} onChange={(e) => setVlan(e.target.value)} aria-label="VLAN id" required />
            </FormField>
          )}
        </div>
        {create.isError && <ProblemBox error={create.error} />}
        <div className="flex justify-end gap-2">
          <Button variant="ghost" onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" loading={create.isPending}>Create network</Button>
        </div>
      </form>
    </Dialog>
  )
}
