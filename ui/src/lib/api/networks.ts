/**
 * Virtual networks and security groups API (docs/networking.md). Their live changes arrive
 * with kinds `network` and `security_group`, which invalidate the `['networks']` and
 * `['security_groups']` prefixes (lib/queryKeys.ts, default case). Commands answer
 * `202 {seq}` (`201` with the new network or group); the client's read-your-writes carries
 * that seq into the next reads.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api } from './client'
import { describeError } from './errors'
import { toast } from '../../stores/ui'

export type NetworkType = 'isolated' | 'nat' | 'bridge' | 'vlan'
export const NETWORK_TYPES: NetworkType[] = ['isolated', 'nat', 'bridge', 'vlan']

export interface NetworkHostState {
  state: 'active' | 'inactive' | 'error' | 'unreachable'
  detail: string
  at: string
}

export interface Network {
  id: string
  network_id: string
  name: string
  type: NetworkType
  cidr: string
  gateway: string
  dns: string[]
  dhcp: boolean
  dhcp_start: string
  dhcp_end: string
  mtu: number
  vlan_id: number
  bridge: string
  reservations: { mac: string; ip: string; name: string }[]
  hosts: Record<string, NetworkHostState>
  allocated: number
  connected_vms: number
  updated_at: string
  seq: number
}

export interface NetworkDetail extends Network {
  vms: { vm_id: string; name: string | null; nic_id: string; ip: string; mac: string }[]
}

export interface NewNetwork {
  name: string
  type: NetworkType
  cidr: string
  gateway?: string
  dns?: string[]
  dhcp?: boolean
  dhcp_start?: string
  dhcp_end?: string
  mtu?: number
  vlan_id?: number
  bridge?: string
}

export type Direction = 'ingress' | 'egress'
export type Protocol = 'tcp' | 'udp' | 'icmp' | 'all'

export interface Rule {
  rule_id: string
  position: number
  direction: Direction
  protocol: Protocol
  port_min: number
  port_max: number
  cidr: string
  remote_group_id: string
  description: string
}

export interface NewRule {
  direction: Direction
  protocol: Protocol
  port_min?: number
  port_max?: number
  cidr?: string
  remote_group_id?: string
  description?: string
}

export interface SecurityGroup {
  id: string
  group_id: string
  name: string
  description: string
  nics: { vm_id: string; nic_id: string }[]
  rules: Rule[]
  inbound: Rule[]
  outbound: Rule[]
  updated_at: string
  seq: number
}

interface Page<T> {
  items: T[]
  next_cursor: string | null
  total: number
}

type Accepted = { seq: number }

export function useNetworks(types: NetworkType[] = []) {
  return useQuery({
    queryKey: ['networks', types.join(',')],
    queryFn: ({ signal }) =>
      api.get<Page<Network>>('/networks', { type: types.join(',') || undefined }, signal),
    placeholderData: keepPreviousData,
  })
}

export function useNetwork(networkId: string | null) {
  return useQuery({
    queryKey: ['networks', 'one', networkId],
    queryFn: ({ signal }) => api.get<NetworkDetail>(`/networks/${id(networkId ?? '')}`, undefined, signal),
    enabled: !!networkId,
  })
}

export function useSecurityGroups() {
  return useQuery({
    queryKey: ['security_groups'],
    queryFn: ({ signal }) => api.get<Page<SecurityGroup>>('/security-groups', undefined, signal),
    placeholderData: keepPreviousData,
  })
}

const id = (s: string) => encodeURIComponent(s)

export const networking = {
  createNetwork: (body: NewNetwork) => api.request<Accepted>('POST', '/networks', { body }),
  deleteNetwork: (networkId: string) => api.request<Accepted>('DELETE', `/networks/${id(networkId)}`),
  createGroup: (body: { name: string; description?: string; rules?: NewRule[] }) =>
    api.request<Accepted>('POST', '/security-groups', { body }),
  deleteGroup: (groupId: string) => api.request<Accepted>('DELETE', `/security-groups/${id(groupId)}`),
  addRule: (v: { groupId: string; rule: NewRule }) =>
    api.request<Accepted>('POST', `/security-groups/${id(v.groupId)}/rules`, { body: v.rule }),
  removeRule: (v: { groupId: string; ruleId: string }) =>
    api.request<Accepted>('DELETE', `/security-groups/${id(v.groupId)}/rules/${id(v.ruleId)}`),
}

/** A network or security-group change: toast, then refresh both lists. */
export function useNetworkChange<V>(fn: (v: V) => Promise<Accepted>, done?: string) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: fn,
    onSuccess: () => {
      if (done) toast.success(done)
      void qc.invalidateQueries({ queryKey: ['networks'] })
      void qc.invalidateQueries({ queryKey: ['security_groups'] })
    },
    onError: (e) => toast.error('Nothing was changed', describeError(e)),
  })
}

/** "22", "80–443", "all" */
export function portText(r: Pick<Rule, 'protocol' | 'port_min' | 'port_max'>): string {
  if (r.protocol === 'icmp' || r.protocol === 'all') return '—'
  if (!r.port_min && !r.port_max) return 'all'
  return r.port_min === r.port_max ? String(r.port_min) : `${r.port_min}–${r.port_max}`
}
