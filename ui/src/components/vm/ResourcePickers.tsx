/**
 * Pickers for where a VM's NIC and disk live: a virtual network (`GET /networks`) or a
 * storage pool (`GET /storage-pools`), always with "default" first (the host's own network
 * and pool, which every host has). A value the lists do not know (a network since deleted,
 * or lists still loading) stays selectable so the select never misstates the VM.
 * With a host chosen, pools not attached to it are disabled and networks not active on it
 * are marked.
 */
import type { SelectHTMLAttributes } from 'react'
import { selectClass } from '../ui/Form'
import { formatBytes, type StoragePool } from '../../lib/api/storage'
import type { Network } from '../../lib/api/networks'

type SelectProps = Omit<SelectHTMLAttributes<HTMLSelectElement>, 'value' | 'onChange'>

export interface NetworkOption {
  value: string
  label: string
}

/** The options of a network picker, "default" first, then by name. */
export function networkOptions(networks: Network[] | undefined, hostId = '', current = ''): NetworkOption[] {
  const out: NetworkOption[] = [{ value: 'default', label: 'default — the host\u2019s default network' }]
  for (const n of [...(networks ?? [])].sort((a, b) => a.name.localeCompare(b.name))) {
    const here = hostId ? n.hosts?.[hostId]?.state : undefined
    const note = hostId && here !== 'active' ? ` (${here ?? 'not'} on this host)` : ''
    out.push({ value: n.id, label: `${n.name} — ${n.type}${n.cidr ? ` ${n.cidr}` : ''}${note}` })
  }
  if (current && !out.some((o) => o.value === current)) out.push({ value: current, label: current })
  return out
}

export function NetworkSelect({ value, onChange, networks, hostId, ...rest }: SelectProps & { value: string; onChange: (v: string) => void; networks: Network[] | undefined; hostId?: string }) {
  return (
    <select className={selectClass} value={value} onChange={(e) => onChange(e.target.value)} {...rest}>
      {networkOptions(networks, hostId, value).map((o) => (
        <option key={o.value} value={o.value}>
          {o.label}
        </option>
      ))}
    </select>
  )
}

export interface PoolOption {
  value: string
  label: string
  disabled: boolean
}

/** The options of a pool picker: "default" first, then by name; pools no VM could use here disabled. */
export function poolOptions(pools: StoragePool[] | undefined, hostId = '', current = ''): PoolOption[] {
  const out: PoolOption[] = [{ value: 'default', label: 'default — the host\u2019s own pool', disabled: false }]
  for (const p of [...(pools ?? [])].sort((a, b) => a.name.localeCompare(b.name))) {
    const attached = p.hosts.length > 0
    const here = !hostId || p.hosts.some((h) => h.host_id === hostId)
    const note = !attached ? ' (not attached to a host)' : !here ? ' (not on this host)' : ''
    out.push({ value: p.id, label: `${p.name} — ${p.type}, ${formatBytes(p.available_bytes)} free${note}`, disabled: !attached || (!here && p.id !== current) })
  }
  if (current && !out.some((o) => o.value === current)) out.push({ value: current, label: current, disabled: false })
  return out
}

export function PoolSelect({ value, onChange, pools, hostId, ...rest }: SelectProps & { value: string; onChange: (v: string) => void; pools: StoragePool[] | undefined; hostId?: string }) {
  return (
    <select className={selectClass} value={value} onChange={(e) => onChange(e.target.value)} {...rest}>
      {poolOptions(pools, hostId, value).map((o) => (
        <option key={o.value} value={o.value} disabled={o.disabled}>
          {o.label}
        </option>
      ))}
    </select>
  )
}

/**
 * Pools among `poolIds` that are not on every connected host, with the names of their hosts:
 * a VM left to the scheduler may land where such a pool is missing.
 */
export function poolsNeedingPin(poolIds: string[], pools: StoragePool[] | undefined, connectedHosts: number): { name: string; hosts: string[] }[] {
  const out: { name: string; hosts: string[] }[] = []
  for (const id of new Set(poolIds)) {
    const p = pools?.find((x) => x.id === id)
    if (p && p.hosts.length > 0 && p.hosts.length < connectedHosts) out.push({ name: p.name, hosts: p.hosts.map((h) => h.host_name) })
  }
  return out
}
