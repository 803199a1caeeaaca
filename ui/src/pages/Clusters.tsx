import { useState, type FormEvent } from 'react'
import { Link } from 'react-router'
import { Boxes, Plus } from 'lucide-react'
import { Button } from '../components/ui/Button'
import { PageHeader } from '../components/ui/Card'
import { Dialog } from '../components/ui/Dialog'
import { EmptyState, ErrorState, Spinner } from '../components/ui/Feedback'
import { FormField, ProblemBox, inputClass } from '../components/ui/Form'
import { UsageBar } from '../components/ui/UsageBar'
import { useCan } from '../lib/api/security'
import { clusters, useClusterChange, useClusters } from '../lib/api/clusters'
import { formatMiB } from '../lib/format'

/** Clusters: hosts, capacity and allocation, DRS mode and HA at a glance. */
export default function Clusters() {
  const list = useClusters()
  const [creating, setCreating] = useState(false)
  const canManage = useCan('cluster.manage')
  return (
    <div className="space-y-4">
      <PageHeader
        title="Clusters"
        icon={<Boxes className="size-5" />}
        subtitle="Groups of hosts with their HA and DRS settings and resource pools"
        actions={canManage && <Button variant="primary" icon={<Plus className="size-4" />} onClick={() => setCreating(true)}>New cluster</Button>}
      />
      {list.isPending ? <Spinner /> : list.isError ? <ErrorState error={list.error} /> : list.data.items.length === 0 ? (
        <EmptyState title="No clusters yet" icon={<Boxes className="size-6" />}>Create a cluster and add hosts to it.</EmptyState>
      ) : (
        <div className="overflow-x-auto rounded-lg border border-border">
          <table className="w-full text-sm" aria-label="Clusters">
            <thead className="bg-surface-2 text-left text-xs text-muted">
              <tr>
                <th className="px-3 py-2">Name</th><th className="px-3 py-2">Hosts</th><th className="px-3 py-2">VMs</th>
                <th className="px-3 py-2">vCPUs allocated</th><th className="px-3 py-2">Memory allocated</th>
                <th className="px-3 py-2">DRS</th><th className="px-3 py-2">HA</th><th className="px-3 py-2">Pools</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((c) => (
                <tr key={c.id} className="border-t border-border">
                  <td className="px-3 py-2"><Link to={`/clusters/${c.id}`} className="font-medium hover:text-accent">{c.name}</Link></td>
                  <td className="px-3 py-2 tabular-nums">{c.hosts_connected}/{c.host_count}</td>
                  <td className="px-3 py-2 tabular-nums">{c.vm_count}</td>
                  <td className="px-3 py-2 w-40"><UsageBar used={c.allocated_vcpus} capacity={Math.max(c.cpus, 1)} label="vCPUs" /></td>
                  <td className="px-3 py-2 w-40">
                    <UsageBar used={c.allocated_memory_mib} capacity={Math.max(c.memory_mib, 1)} label="Memory" />
                    <span className="text-xs text-subtle">{formatMiB(c.allocated_memory_mib)} / {formatMiB(c.memory_mib)}</span>
                  </td>
                  <td className="px-3 py-2">{c.drs.mode}</td>
                  <td className="px-3 py-2">{c.ha.enabled ? 'on' : 'off'}</td>
                  <td className="px-3 py-2 tabular-nums">{c.pools.length}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CreateCluster open={creating} onClose={() => setCreating(false)} />
    </div>
  )
}

function CreateCluster({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [name, setName] = useState('')
  const [description, setDescription] = useState('')
  const create = useClusterChange(clusters.create, 'Cluster created')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate({ name, description }, { onSuccess: () => { setName(''); setDescription(''); onClose() } })
  }
  return (
    <Dialog open={open} onClose={() => { create.reset(); onClose() }} title="New cluster">
      <form onSubmit={submit} className="space-y-3">
        <FormField label="Name">
          <input aria-label="Name" className={inputClass} value={name} onChange={(e) => setName(e.target.value)} required />
        </FormField>
        <FormField label="Description">
          <input aria-label="Description" className={inputClass} value={description} onChange={(e) => setDescription(e.target.value)} />
        </FormField>
        {create.isError && <ProblemBox error={create.error} />}
        <div className="flex justify-end gap-2">
          <Button variant="ghost" onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" loading={create.isPending}>Create</Button>
        </div>
      </form>
    </Dialog>
  )
}
