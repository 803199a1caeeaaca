import { useState, type FormEvent } from 'react'
import { Link } from 'react-router'
import { Database, Plus, RefreshCw, Trash2, Unlink } from 'lucide-react'
import { Button } from '../components/ui/Button'
import { PageHeader } from '../components/ui/Card'
import { Dialog } from '../components/ui/Dialog'
import { EmptyState, ErrorState, Spinner } from '../components/ui/Feedback'
import { FormField, ProblemBox, inputClass, selectClass } from '../components/ui/Form'
import { StateBadge } from '../components/ui/StateBadge'
import { UsageBar } from '../components/ui/UsageBar'
import { useHosts } from '../lib/api/hooks'
import { useCan } from '../lib/api/security'
import {
  POOL_TYPES,
  SHARED_TYPES,
  formatBytes,
  storage,
  useStorageChange,
  useStoragePools,
  type PoolType,
  type StoragePool,
} from '../lib/api/storage'

/** The parameters each pool type asks for (docs/storage.md); lists are comma-separated. */
const FIELDS: Record<PoolType, { key: string; label: string; placeholder: string; list?: boolean; optional?: boolean }[]> = {
  dir: [{ key: 'path', label: 'Directory', placeholder: '/var/lib/limiquantix/pools/fast' }],
  netfs: [
    { key: 'host', label: 'NFS server', placeholder: 'nfs.example.org' },
    { key: 'source_path', label: 'Export', placeholder: '/export/vms' },
    { key: 'path', label: 'Mount point', placeholder: '/mnt/lq-nfs' },
  ],
  logical: [
    { key: 'vg_name', label: 'Volume group', placeholder: 'vg_vms' },
    { key: 'devices', label: 'Physical volumes (to build the group)', placeholder: '/dev/sdb1, /dev/sdc1', list: true, optional: true },
  ],
  rbd: [
    { key: 'monitors', label: 'Monitors', placeholder: 'mon1:6789, mon2:6789', list: true },
    { key: 'rbd_pool', label: 'Ceph pool', placeholder: 'vms' },
    { key: 'auth_user', label: 'cephx user', placeholder: 'libvirt', optional: true },
    { key: 'secret_uuid', label: 'libvirt secret UUID', placeholder: '…', optional: true },
  ],
  iscsi: [
    { key: 'host', label: 'Target portal', placeholder: 'san.example.org' },
    { key: 'iqn', label: 'Target IQN', placeholder: 'iqn.2004-04.org.example:lun1' },
    { key: 'initiator_iqn', label: 'Initiator IQN', placeholder: 'iqn.2026-01.org.example:host1', optional: true },
  ],
}

/** Storage pools: one card per pool with its usage, its hosts' states and its actions. */
export default function StoragePools() {
  const pools = useStoragePools()
  const [creating, setCreating] = useState(false)
  const canManage = useCan('storage.manage')
  return (
    <div className="space-y-4">
      <PageHeader
        title="Storage pools"
        icon={<Database className="size-5" />}
        subtitle="Where volumes live: capacity, allocation and state on each host"
        actions={
          <div className="flex gap-2">
            <Link to="/volumes" className="text-sm text-muted hover:text-fg">Volumes →</Link>
            {canManage && <Button variant="primary" icon={<Plus className="size-4" />} onClick={() => setCreating(true)}>New pool</Button>}
          </div>
        }
      />
      {pools.isPending ? <Spinner /> : pools.isError ? <ErrorState error={pools.error} /> : pools.data.items.length === 0 ? (
        <EmptyState title="No storage pools yet" icon={<Database className="size-6" />}>Create a pool and attach it to a host.</EmptyState>
      ) : (
        <div className="grid gap-4 md:grid-cols-2 xl:grid-cols-3" aria-label="Storage pools">
          {pools.data.items.map((p) => <PoolCard key={p.id} pool={p} canManage={canManage} />)}
        </div>
      )}
      <CreatePool open={creating} onClose={() => setCreating(false)} />
    </div>
  )
}

function PoolCard({ pool, canManage }: { pool: StoragePool; canManage: boolean }) {
  const hosts = useHosts({ limit: 500 })
  const [hostId, setHostId] = useState('')
  const action = useStorageChange(storage.poolAction)
  const remove = useStorageChange(storage.deletePool, `Pool ${pool.name} deleted`)
  const attachable = (hosts.data?.items ?? []).filter((h) => !pool.hosts.some((ph) => ph.host_id === h.id))
  const canAttach = pool.shared || pool.hosts.length === 0
  const hostCapacity = Math.max(0, ...pool.hosts.map((h) => h.capacity_bytes))
  return (
    <section className="rounded-lg border border-border bg-surface p-4" data-pool={pool.name} aria-label={`Pool ${pool.name}`}>
      <div className="mb-3 flex items-start justify-between gap-2">
        <div className="min-w-0">
          <h2 className="truncate text-base font-semibold">{pool.name}</h2>
          <div className="text-xs text-muted">
            {pool.type}{pool.shared ? ' · shared' : ' · local'} · {pool.volume_count} volume{pool.volume_count === 1 ? '' : 's'}
          </div>
        </div>
        <StateBadge state={pool.state} />
      </div>
      <UsageBar
        used={pool.allocated_bytes}
        capacity={pool.limit_bytes}
        label={`Allocated ${formatBytes(pool.allocated_bytes)} of ${formatBytes(pool.limit_bytes)}${pool.overcommit !== 1 ? ` (×${pool.overcommit} overcommit)` : ''}`}
      />
      <UsageBar
        className="mt-2"
        compact
        used={pool.used_bytes}
        capacity={hostCapacity}
        label={`On disk ${formatBytes(pool.used_bytes)} of ${formatBytes(hostCapacity)} · free ${formatBytes(pool.available_bytes)}`}
      />
      <ul className="mt-3 space-y-1.5" aria-label={`Hosts of ${pool.name}`}>
        {pool.hosts.length === 0 && <li className="text-xs text-subtle">Not attached to any host</li>}
        {pool.hosts.map((h) => (
          <li key={h.host_id} className="flex items-center justify-between gap-2 text-sm" data-pool-host={h.host_name}>
            <span className="min-w-0 truncate" title={h.error || undefined}>
              <Link to={`/hosts/${h.host_id}`} className="hover:underline">{h.host_name}</Link>
              {h.error && <span className="ml-2 text-xs text-bad">{h.error}</span>}
            </span>
            <span className="flex items-center gap-1">
              <StateBadge state={h.state} />
              {canManage && (
                <>
                  <Button size="sm" variant="ghost" icon={<RefreshCw className="size-3.5" />} title="Refresh" aria-label={`Refresh ${pool.name} on ${h.host_name}`}
                    onClick={() => action.mutate({ poolId: pool.id, action: 'refresh', hostId: h.host_id })} />
                  <Button size="sm" variant="ghost" icon={<Unlink className="size-3.5" />} title="Detach" aria-label={`Detach ${pool.name} from ${h.host_name}`}
                    onClick={() => action.mutate({ poolId: pool.id, action: 'detach', hostId: h.host_id })} />
                </>
              )}
            </span>
          </li>
        ))}
      </ul>
      {canManage && (
        <div className="mt-3 flex flex-wrap items-center gap-2 border-t border-border pt-3">
          {canAttach && attachable.length > 0 && (
            <>
              <select className={`${selectClass} h-7 w-auto flex-1 text-xs`} aria-label={`Host to attach ${pool.name} to`} value={hostId} onChange={(e) => setHostId(e.target.value)}>
                <option value="">Attach to host…</option>
                {attachable.map((h) => <option key={h.id} value={h.id}>{h.name}</option>)}
              </select>
              <Button size="sm" disabled={!hostId} loading={action.isPending}
                onClick={() => action.mutate({ poolId: pool.id, action: 'attach', hostId }, { onSuccess: () => setHostId('') })}>Attach</Button>
            </>
          )}
          <Button size="sm" variant="ghost" icon={<RefreshCw className="size-3.5" />} disabled={pool.hosts.length === 0}
            onClick={() => action.mutate({ poolId: pool.id, action: 'refresh' })}>Refresh</Button>
          <Button size="sm" variant="danger" icon={<Trash2 className="size-3.5" />}
            onClick={() => window.confirm(`Delete pool ${pool.name}?`) && remove.mutate(pool.id)}>Delete</Button>
        </div>
      )}
    </section>
  )
}

function CreatePool({ open, onClose }: { open: boolean; onClose: () => void }) {
  const hosts = useHosts({ limit: 500 })
  const [name, setName] = useState('')
  const [type, setType] = useState<PoolType>('dir')
  const [values, setValues] = useState<Record<string, string>>({})
  const [overcommit, setOvercommit] = useState('1')
  const [capacity, setCapacity] = useState('')
  const [hostIds, setHostIds] = useState<string[]>([])
  const create = useStorageChange(storage.createPool, 'Pool created')
  const shared = SHARED_TYPES.includes(type)
  const submit = (e: FormEvent) => {
    e.preventDefault()
    const params: Record<string, unknown> = {}
    for (const f of FIELDS[type]) {
      const raw = (values[`${type}.${f.key}`] ?? '').trim()
      if (!raw && f.optional) continue
      params[f.key] = f.list ? raw.split(/[\s,]+/).filter(Boolean) : raw
    }
    create.mutate(
      {
        name,
        type,
        params,
        overcommit: Number(overcommit) || 1,
        capacity_gib: capacity ? Number(capacity) : undefined,
        host_ids: hostIds,
      },
      { onSuccess: () => { onClose(); setName(''); setValues({}); setHostIds([]); setCapacity('') } },
    )
  }
  const toggleHost = (id: string) =>
    setHostIds((cur) => (cur.includes(id) ? cur.filter((x) => x !== id) : shared ? [...cur, id] : [id]))
  return (
    <Dialog open={open} onClose={onClose} title="New storage pool" description="Local pools (dir, logical) live on one host; shared ones (netfs, rbd, iscsi) on many.">
      <form onSubmit={submit} className="space-y-3" aria-label="New storage pool">
        <FormField label="Name">
          <input className={inputClass} value={name} onChange={(e) => setName(e.target.value)} aria-label="Pool name" required data-autofocus />
        </FormField>
        <FormField label="Type">
          <select className={selectClass} value={type} aria-label="Pool type" onChange={(e) => { setType(e.target.value as PoolType); setHostIds([]) }}>
            {POOL_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </FormField>
        {FIELDS[type].map((f) => (
          <FormField key={`${type}.${f.key}`} label={f.label + (f.optional ? ' (optional)' : '')}>
            <input className={inputClass} placeholder={f.placeholder} aria-label={f.label} required={!f.optional}
              value={values[`${type}.${f.key}`] ?? ''} onChange={(e) => setValues({ ...values, [`${type}.${f.key}`]: e.target.value })} />
          </FormField>
        ))}
        <div className="grid grid-cols-2 gap-3">
          <FormField label="Overcommit" hint="volumes may add up to capacity × this">
            <input className={inputClass} type="number" step="0.1" min="0.1" max="100" aria-label="Overcommit" value={overcommit} onChange={(e) => setOvercommit(e.target.value)} />
          </FormField>
          <FormField label="Capacity GiB" hint="empty: as the hosts report">
            <input className={inputClass} type="number" min="1" aria-label="Capacity GiB" value={capacity} onChange={(e) => setCapacity(e.target.value)} />
          </FormField>
        </div>
        <FormField label={shared ? 'Hosts' : 'Host'}>
          <div className="flex flex-wrap gap-2">
            {(hosts.data?.items ?? []).map((h) => (
              <label key={h.id} className="flex items-center gap-1.5 text-sm">
                <input type="checkbox" checked={hostIds.includes(h.id)} onChange={() => toggleHost(h.id)} aria-label={`Attach to ${h.name}`} />
                {h.name}
              </label>
            ))}
          </div>
        </FormField>
        {create.isError && <ProblemBox error={create.error} />}
        <div className="flex justify-end gap-2">
          <Button variant="ghost" onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" loading={create.isPending}>Create pool</Button>
        </div>
      </form>
    </Dialog>
  )
}

