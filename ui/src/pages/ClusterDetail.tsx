import { useState, type FormEvent } from 'react'
import { Link, useParams } from 'react-router'
import { Boxes, ChevronRight, Plus, Trash2 } from 'lucide-react'
import { Button } from '../components/ui/Button'
import { Card, Field, PageHeader } from '../components/ui/Card'
import { ErrorState, Spinner } from '../components/ui/Feedback'
import { Checkbox, FormField, ProblemBox, inputClass, selectClass } from '../components/ui/Form'
import { StateBadge } from '../components/ui/StateBadge'
import { Tabs } from '../components/ui/Tabs'
import { UsageBar } from '../components/ui/UsageBar'
import { useHosts } from '../lib/api/hooks'
import { useCan } from '../lib/api/security'
import {
  clusters,
  useCluster,
  useClusterChange,
  useClusterEvents,
  type ClusterDetail as Detail,
  type DrsSettings,
  type HaSettings,
} from '../lib/api/clusters'
import { formatDateTime, formatMiB } from '../lib/format'

type Tab = 'summary' | 'hosts' | 'vms' | 'pools' | 'settings' | 'events'

/** One cluster: Summary, Hosts, VMs, Resource Pools, Settings (HA, DRS), Events. */
export default function ClusterDetail() {
  const { id = '' } = useParams()
  const cluster = useCluster(id)
  const [tab, setTab] = useState<Tab>('summary')
  if (cluster.isPending) return <Spinner label="Loading cluster…" />
  if (cluster.isError && !cluster.data) return <ErrorState error={cluster.error} title="Could not load this cluster" />
  const c = cluster.data!
  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-3 flex items-center gap-1 text-xs text-subtle">
        <Link to="/clusters" className="hover:text-fg">Clusters</Link>
        <ChevronRight className="size-3" />
        <span className="text-muted">{c.name}</span>
      </nav>
      <PageHeader title={c.name} icon={<Boxes className="size-5" />} subtitle={c.description || undefined} />
      <Tabs<Tab>
        tabs={[
          { key: 'summary', label: 'Summary' },
          { key: 'hosts', label: 'Hosts', count: c.hosts.length },
          { key: 'vms', label: 'VMs', count: c.vms.length },
          { key: 'pools', label: 'Resource Pools', count: c.pools.length },
          { key: 'settings', label: 'Settings' },
          { key: 'events', label: 'Events' },
        ]}
        value={tab}
        onChange={setTab}
        className="mb-4"
      />
      {tab === 'summary' && <Summary c={c} />}
      {tab === 'hosts' && <Hosts c={c} />}
      {tab === 'vms' && <Vms c={c} />}
      {tab === 'pools' && <Pools c={c} />}
      {tab === 'settings' && <Settings c={c} />}
      {tab === 'events' && <Events clusterId={c.id} />}
    </>
  )
}

function Summary({ c }: { c: Detail }) {
  return (
    <div className="grid gap-4 lg:grid-cols-2">
      <Card title="General">
        <dl>
          <Field label="Hosts">{c.hosts_connected} connected of {c.host_count}</Field>
          <Field label="VMs">{c.vm_count}</Field>
          <Field label="DRS">{c.drs.mode} (threshold {c.drs.threshold})</Field>
          <Field label="HA">{c.ha.enabled ? `on, ${c.ha.failover_capacity_percent}% kept for failover` : 'off'}</Field>
          <Field label="Created">{formatDateTime(c.created_at)}</Field>
        </dl>
      </Card>
      <Card title="Allocation">
        <div className="flex flex-col gap-4">
          <UsageBar used={c.allocated_vcpus} capacity={Math.max(c.cpus, 1)} label="vCPUs (of physical)" />
          <UsageBar used={c.allocated_memory_mib} capacity={Math.max(c.memory_mib, 1)} label="Memory" />
          <p className="text-xs text-subtle">{formatMiB(c.allocated_memory_mib)} of {formatMiB(c.memory_mib)}</p>
        </div>
      </Card>
    </div>
  )
}

function Hosts({ c }: { c: Detail }) {
  const canManage = useCan('cluster.manage', { clusterId: c.id })
  const all = useHosts({ limit: 500 })
  const [pick, setPick] = useState('')
  const add = useClusterChange(clusters.addHost, 'Host added')
  const remove = useClusterChange(clusters.removeHost, 'Host removed')
  const members = new Set(c.hosts.map((h) => h.id))
  const free = (all.data?.items ?? []).filter((h) => !members.has(h.id))
  return (
    <div className="space-y-3">
      {canManage && (
        <div className="flex items-end gap-2">
          <FormField label="Add a host" className="w-72">
            <select aria-label="Host to add" className={selectClass} value={pick} onChange={(e) => setPick(e.target.value)}>
              <option value="">Choose…</option>
              {free.map((h) => <option key={h.id} value={h.id}>{h.name}</option>)}
            </select>
          </FormField>
          <Button disabled={!pick} loading={add.isPending} onClick={() => add.mutate({ clusterId: c.id, hostId: pick }, { onSuccess: () => setPick('') })}>Add host</Button>
        </div>
      )}
      <table className="w-full text-sm" aria-label="Cluster hosts">
        <thead className="bg-surface-2 text-left text-xs text-muted">
          <tr><th className="px-3 py-2">Name</th><th className="px-3 py-2">State</th><th className="px-3 py-2">vCPUs</th><th className="px-3 py-2">Memory</th><th className="px-3 py-2">VMs</th><th /></tr>
        </thead>
        <tbody>
          {c.hosts.map((h) => (
            <tr key={h.id} className="border-t border-border">
              <td className="px-3 py-2"><Link to={`/hosts/${h.id}`} className="hover:text-accent">{h.name}</Link></td>
              <td className="px-3 py-2"><StateBadge state={h.state} /></td>
              <td className="px-3 py-2 tabular-nums">{h.allocated_vcpus}/{h.cpus}</td>
              <td className="px-3 py-2 tabular-nums">{formatMiB(h.allocated_memory_mib)}/{formatMiB(h.memory_mib)}</td>
              <td className="px-3 py-2 tabular-nums">{h.vm_count}</td>
              <td className="px-3 py-2 text-right">
                {canManage && <Button size="sm" variant="ghost" onClick={() => remove.mutate({ clusterId: c.id, hostId: h.id })}>Remove</Button>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function Vms({ c }: { c: Detail }) {
  const pools = new Map(c.pools.map((p) => [p.pool_id, p.name]))
  return (
    <table className="w-full text-sm" aria-label="Cluster VMs">
      <thead className="bg-surface-2 text-left text-xs text-muted">
        <tr><th className="px-3 py-2">Name</th><th className="px-3 py-2">State</th><th className="px-3 py-2">Host</th><th className="px-3 py-2">Size</th><th className="px-3 py-2">Pool</th></tr>
      </thead>
      <tbody>
        {c.vms.map((v) => (
          <tr key={v.id} className="border-t border-border">
            <td className="px-3 py-2"><Link to={`/vms/${v.id}`} className="hover:text-accent">{v.name}</Link></td>
            <td className="px-3 py-2"><StateBadge state={v.state} /></td>
            <td className="px-3 py-2">{v.host_name}</td>
            <td className="px-3 py-2 tabular-nums">{v.vcpus} vCPU · {formatMiB(v.memory_mib)}</td>
            <td className="px-3 py-2">{v.resource_pool_id ? pools.get(v.resource_pool_id) ?? '—' : '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function Pools({ c }: { c: Detail }) {
  const canManage = useCan('cluster.manage', { clusterId: c.id })
  const [name, setName] = useState('')
  const [cpuLimit, setCpuLimit] = useState(0)
  const [memLimit, setMemLimit] = useState(0)
  const create = useClusterChange(clusters.createPool, 'Resource pool created')
  const remove = useClusterChange(clusters.deletePool, 'Resource pool deleted')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate(
      { clusterId: c.id, body: { name, cpu_reservation: 0, cpu_limit: cpuLimit, memory_reservation_mib: 0, memory_limit_mib: memLimit } },
      { onSuccess: () => setName('') },
    )
  }
  return (
    <div className="space-y-3">
      {canManage && (
        <form onSubmit={submit} className="flex flex-wrap items-end gap-2">
          <FormField label="Pool name"><input aria-label="Pool name" className={inputClass} value={name} onChange={(e) => setName(e.target.value)} required /></FormField>
          <FormField label="vCPU limit (0 = none)"><input aria-label="vCPU limit" type="number" min={0} className={inputClass} value={cpuLimit} onChange={(e) => setCpuLimit(Number(e.target.value))} /></FormField>
          <FormField label="Memory limit MiB (0 = none)"><input aria-label="Memory limit" type="number" min={0} className={inputClass} value={memLimit} onChange={(e) => setMemLimit(Number(e.target.value))} /></FormField>
          <Button type="submit" icon={<Plus className="size-4" />} loading={create.isPending}>Add pool</Button>
        </form>
      )}
      {create.isError && <ProblemBox error={create.error} />}
      <table className="w-full text-sm" aria-label="Resource pools">
        <thead className="bg-surface-2 text-left text-xs text-muted">
          <tr><th className="px-3 py-2">Name</th><th className="px-3 py-2">VMs</th><th className="px-3 py-2">vCPUs used / limit</th><th className="px-3 py-2">Memory used / limit</th><th /></tr>
        </thead>
        <tbody>
          {c.pools.map((p) => (
            <tr key={p.pool_id} className="border-t border-border">
              <td className="px-3 py-2">{p.name}</td>
              <td className="px-3 py-2 tabular-nums">{p.vm_count ?? 0}</td>
              <td className="px-3 py-2 tabular-nums">{p.used_vcpus ?? 0} / {p.cpu_limit || '∞'}</td>
              <td className="px-3 py-2 tabular-nums">{formatMiB(p.used_memory_mib ?? 0)} / {p.memory_limit_mib ? formatMiB(p.memory_limit_mib) : '∞'}</td>
              <td className="px-3 py-2 text-right">
                {canManage && <Button size="sm" variant="ghost" aria-label={`Delete pool ${p.name}`} icon={<Trash2 className="size-3.5" />} onClick={() => remove.mutate({ clusterId: c.id, poolId: p.pool_id })} />}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function Settings({ c }: { c: Detail }) {
  const canManage = useCan('cluster.manage', { clusterId: c.id })
  const [ha, setHa] = useState<HaSettings>(c.ha)
  const [drs, setDrs] = useState<DrsSettings>(c.drs)
  const save = useClusterChange(clusters.update, 'Settings saved')
  return (
    <form
      className="grid max-w-2xl gap-4"
      onSubmit={(e) => { e.preventDefault(); save.mutate({ clusterId: c.id, body: { ha, drs } }) }}
    >
      <Card title="High availability">
        <Checkbox checked={ha.enabled} onChange={(v) => setHa({ ...ha, enabled: v })} disabled={!canManage}>Restart VMs of a failed host elsewhere</Checkbox>
        <FormField label="Failover capacity (%)">
          <input aria-label="Failover capacity" type="number" min={0} max={100} className={inputClass} value={ha.failover_capacity_percent} disabled={!canManage}
            onChange={(e) => setHa({ ...ha, failover_capacity_percent: Number(e.target.value) })} />
        </FormField>
      </Card>
      <Card title="DRS">
        <FormField label="Mode">
          <select aria-label="DRS mode" className={selectClass} value={drs.mode} disabled={!canManage} onChange={(e) => setDrs({ ...drs, mode: e.target.value as DrsSettings['mode'] })}>
            <option value="manual">Manual (recommendations only)</option>
            <option value="partial">Partially automated (initial placement)</option>
            <option value="full">Fully automated</option>
          </select>
        </FormField>
        <FormField label="Threshold (1–5)">
          <input aria-label="DRS threshold" type="number" min={1} max={5} className={inputClass} value={drs.threshold} disabled={!canManage}
            onChange={(e) => setDrs({ ...drs, threshold: Number(e.target.value) })} />
        </FormField>
      </Card>
      {save.isError && <ProblemBox error={save.error} />}
      {canManage && <div><Button type="submit" variant="primary" loading={save.isPending}>Save settings</Button></div>}
    </form>
  )
}

function Events({ clusterId }: { clusterId: string }) {
  const events = useClusterEvents(clusterId)
  if (events.isPending) return <Spinner />
  if (events.isError) return <ErrorState error={events.error} />
  return (
    <ul className="divide-y divide-border rounded-lg border border-border text-sm" aria-label="Cluster events">
      {events.data.items.map((e) => (
        <li key={`${e.seq}-${e.type}`} className="flex gap-3 px-3 py-2">
          <span className="font-mono text-xs text-subtle">{formatDateTime(e.occurred_at)}</span>
          <span className="font-medium">{e.type}</span>
          <span className="text-muted">{e.actor}</span>
        </li>
      ))}
    </ul>
  )
}
