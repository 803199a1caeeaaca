import { useState, type FormEvent } from 'react'
import { Link, useSearchParams } from 'react-router'
import { Copy, Download, HardDrive, Maximize2, Plus, Trash2, Upload } from 'lucide-react'
import { Button } from '../components/ui/Button'
import { Card, PageHeader } from '../components/ui/Card'
import { Dialog } from '../components/ui/Dialog'
import { EmptyState, ErrorState, Spinner } from '../components/ui/Feedback'
import { Checkbox, FormField, ProblemBox, inputClass, selectClass } from '../components/ui/Form'
import { StateBadge } from '../components/ui/StateBadge'
import { ProgressBar } from '../components/ui/UsageBar'
import { useActiveTargets, useTask } from '../lib/api/hooks'
import { useCan } from '../lib/api/security'
import { formatBytes, storage, useStorageChange, useStoragePools, useVolumes, type Volume } from '../lib/api/storage'

const GIB = 1024 ** 3

type Dialogs = { kind: 'create' } | { kind: 'import' } | { kind: 'upload' } | { kind: 'resize'; v: Volume } | { kind: 'clone'; v: Volume } | { kind: 'delete'; v: Volume } | null

/** Volumes: every volume of every pool (or of one, `?pool_id=`), with its VMs and actions.
 * Each operation is a task: a volume's actions are disabled while its task is queued or
 * running, and a failed one shows the task's error with a link to the task. */
export default function Volumes() {
  const [params, setParams] = useSearchParams()
  const poolId = params.get('pool_id') ?? ''
  const pools = useStoragePools()
  const volumes = useVolumes(poolId)
  const [dialog, setDialog] = useState<Dialogs>(null)
  const canManage = useCan('storage.manage')
  const active = useActiveTargets()
  return (
    <div className="space-y-4">
      <PageHeader
        title="Volumes"
        icon={<HardDrive className="size-5" />}
        subtitle="Disks and images in the storage pools"
        actions={
          <div className="flex items-center gap-2">
            <Link to="/storage" className="whitespace-nowrap text-sm text-muted hover:text-fg">← Storage pools</Link>
            <select className={`${selectClass} h-8 w-48`} aria-label="Filter by pool" value={poolId}
              onChange={(e) => setParams(e.target.value ? { pool_id: e.target.value } : {})}>
              <option value="">All pools</option>
              {(pools.data?.items ?? []).map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
            </select>
            {canManage && (
              <>
                <Button icon={<Upload className="size-4" />} onClick={() => setDialog({ kind: 'upload' })}>Upload file</Button>
                <Button icon={<Download className="size-4" />} onClick={() => setDialog({ kind: 'import' })}>Import URL</Button>
                <Button variant="primary" icon={<Plus className="size-4" />} onClick={() => setDialog({ kind: 'create' })}>New volume</Button>
              </>
            )}
          </div>
        }
      />
      <Card bodyClassName="p-0">
        {volumes.isPending ? <Spinner /> : volumes.isError ? <ErrorState error={volumes.error} /> : volumes.data.items.length === 0 ? (
          <EmptyState title="No volumes" icon={<HardDrive className="size-6" />} />
        ) : (
          <table className="w-full text-sm" aria-label="Volumes">
            <thead className="text-left text-xs text-muted">
              <tr>
                <th className="px-3 py-2">Name</th><th className="px-3 py-2">Pool</th><th className="px-3 py-2">Size</th>
                <th className="px-3 py-2">Format</th><th className="px-3 py-2">State</th><th className="px-3 py-2">Attached to</th><th />
              </tr>
            </thead>
            <tbody>
              {volumes.data.items.map((v) => {
                const busy = active.has(v.id)
                return (
                <tr key={v.id} className="border-t border-border" data-volume={v.name} data-busy={busy || undefined}>
                  <td className="px-3 py-2 font-medium" title={v.path || undefined}>{v.name}</td>
                  <td className="px-3 py-2"><Link className="hover:underline" to={`/volumes?pool_id=${v.pool_id}`}>{v.pool_name}</Link></td>
                  <td className="px-3 py-2 tabular-nums">{formatBytes(v.size_bytes)}</td>
                  <td className="px-3 py-2 text-muted">{v.format}{v.thin ? ' · thin' : ''}</td>
                  <td className="px-3 py-2">
                    <StateBadge state={v.state} />
                    {v.state === 'creating' && v.operation === 'import' && <div className="mt-1 w-24"><ProgressBar value={v.progress} active /></div>}
                    {busy && v.task_id && <Link to={`/tasks/${v.task_id}`} className="block text-xs text-muted hover:underline">task running…</Link>}
                    {v.error && <VolumeError v={v} />}
                  </td>
                  <td className="px-3 py-2">
                    {v.attached_to.length === 0 ? <span className="text-subtle">—</span> : v.attached_to.map((a) => (
                      <Link key={`${a.vm_id}/${a.disk_id}`} to={`/vms/${a.vm_id}`} className="mr-2 hover:underline">{a.vm_name} ({a.disk_id})</Link>
                    ))}
                  </td>
                  <td className="px-3 py-2 text-right">
                    {canManage && (
                      <div className="flex justify-end gap-1">
                        <Button size="sm" variant="ghost" icon={<Maximize2 className="size-3.5" />} disabled={busy || v.state !== 'ready'} onClick={() => setDialog({ kind: 'resize', v })}>Resize</Button>
                        <Button size="sm" variant="ghost" icon={<Copy className="size-3.5" />} disabled={busy || v.state !== 'ready'} onClick={() => setDialog({ kind: 'clone', v })}>Clone</Button>
                        <Button size="sm" variant="danger" icon={<Trash2 className="size-3.5" />} disabled={busy || v.state === 'deleting'} onClick={() => setDialog({ kind: 'delete', v })}>Delete</Button>
                      </div>
                    )}
                  </td>
                </tr>
                )
              })}
            </tbody>
          </table>
        )}
      </Card>
      {dialog?.kind === 'create' && <CreateVolume poolId={poolId} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'import' && <ImportVolume poolId={poolId} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'upload' && <UploadVolume poolId={poolId} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'resize' && <ResizeVolume v={dialog.v} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'clone' && <CloneVolume v={dialog.v} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'delete' && <DeleteVolume v={dialog.v} onClose={() => setDialog(null)} />}
    </div>
  )
}

/** The error of a volume's last operation, as its task recorded it (the host's reason). */
function VolumeError({ v }: { v: Volume }) {
  const task = useTask(v.task_id || null)
  const failed = task.data?.state === 'failed' ? task.data : null
  return (
    <div className="text-xs text-bad" data-testid="volume-error">
      {failed?.error ?? v.error}
      {v.task_id && <Link to={`/tasks/${v.task_id}`} className="ml-1 underline">task</Link>}
    </div>
  )
}

function PoolSelect({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  const pools = useStoragePools()
  return (
    <FormField label="Pool">
      <select className={selectClass} aria-label="Pool" value={value} onChange={(e) => onChange(e.target.value)} required>
        <option value="">Choose a pool…</option>
        {(pools.data?.items ?? []).map((p) => (
          <option key={p.id} value={p.id}>{p.name} ({formatBytes(p.limit_bytes - p.allocated_bytes)} free)</option>
        ))}
      </select>
    </FormField>
  )
}

function CreateVolume({ poolId, onClose }: { poolId: string; onClose: () => void }) {
  const [pool, setPool] = useState(poolId)
  const [name, setName] = useState('')
  const [size, setSize] = useState('10')
  const [format, setFormat] = useState<'raw' | 'qcow2'>('qcow2')
  const [thin, setThin] = useState(true)
  const create = useStorageChange(storage.createVolume, 'Volume requested')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate({ pool_id: pool, name, size_gib: Number(size), format, thin }, { onSuccess: onClose })
  }
  return (
    <Dialog open onClose={onClose} title="New volume">
      <form onSubmit={submit} className="space-y-3" aria-label="New volume">
        <PoolSelect value={pool} onChange={setPool} />
        <FormField label="Name"><input className={inputClass} aria-label="Volume name" value={name} onChange={(e) => setName(e.target.value)} required /></FormField>
        <div className="grid grid-cols-2 gap-3">
          <FormField label="Size GiB"><input className={inputClass} type="number" min="1" aria-label="Size GiB" value={size} onChange={(e) => setSize(e.target.value)} required /></FormField>
          <FormField label="Format">
            <select className={selectClass} aria-label="Format" value={format} onChange={(e) => setFormat(e.target.value as 'raw' | 'qcow2')}>
              <option value="qcow2">qcow2</option><option value="raw">raw</option>
            </select>
          </FormField>
        </div>
        <Checkbox checked={thin} onChange={setThin} hint="raw volumes are fully allocated otherwise">Thin (sparse)</Checkbox>
        {create.isError && <ProblemBox error={create.error} />}
        <div className="flex justify-end gap-2">
          <Button variant="ghost" onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" loading={create.isPending}>Create volume</Button>
        </div>
      </form>
    </Dialog>
  )
}

function ImportVolume({ poolId, onClose }: { poolId: string; onClose: () => void }) {
  const [pool, setPool] = useState(poolId)
  const [name, setName] = useState('')
  const [url, setUrl] = useState('')
  const [size, setSize] = useState('10')
  const [format, setFormat] = useState<'raw' | 'qcow2'>('qcow2')
  const run = useStorageChange(storage.importVolume, 'Import started')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    run.mutate({ pool_id: pool, name, url, format, size_gib: Number(size) }, { onSuccess: onClose })
  }
  return (
    <Dialog open onClose={onClose} title="Import an image from a URL" description="The host downloads it into a new volume; the size is the space reserved meanwhile.">
      <form onSubmit={submit} className="space-y-3" aria-label="Import volume">
        <PoolSelect value={pool} onChange={setPool} />
        <FormField label="Name"><input className={inputClass} aria-label="Volume name" value={name} onChange={(e) => setName(e.target.value)} required /></FormField>
        <FormField label="URL"><input className={inputClass} type="url" aria-label="Image URL" placeholder="https://…/image.qcow2" value={url} onChange={(e) => setUrl(e.target.value)} required /></FormField>
        <div className="grid grid-cols-2 gap-3">
          <FormField label="Reserve GiB"><input className={inputClass} type="number" min="1" aria-label="Reserve GiB" value={size} onChange={(e) => setSize(e.target.value)} required /></FormField>
          <FormField label="Format">
            <select className={selectClass} aria-label="Format" value={format} onChange={(e) => setFormat(e.target.value as 'raw' | 'qcow2')}>
              <option value="qcow2">qcow2</option><option value="raw">raw</option>
            </select>
          </FormField>
        </div>
        {run.isError && <ProblemBox error={run.error} />}
        <div className="flex justify-end gap-2">
          <Button variant="ghost" onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" loading={run.isPending}>Import</Button>
        </div>
      </form>
    </Dialog>
  )
}

function UploadVolume({ poolId, onClose }: { poolId: string; onClose: () => void }) {
  const [pool, setPool] = useState(poolId)
  const [name, setName] = useState('')
  const [file, setFile] = useState<File | null>(null)
  const [format, setFormat] = useState<'raw' | 'qcow2'>('qcow2')
  const run = useStorageChange(storage.uploadVolume, 'Upload done')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    if (file) run.mutate({ poolId: pool, name: name || file.name, format, file }, { onSuccess: onClose })
  }
  return (
    <Dialog open onClose={onClose} title="Upload an image" description="The file goes to the pool's host and becomes a new volume.">
      <form onSubmit={submit} className="space-y-3" aria-label="Upload volume">
        <PoolSelect value={pool} onChange={setPool} />
        <FormField label="File">
          <input className="text-sm" type="file" aria-label="Image file" required
            onChange={(e) => { const f = e.target.files?.[0] ?? null; setFile(f); if (f && !name) setName(f.name) }} />
        </FormField>
        <FormField label="Name"><input className={inputClass} aria-label="Volume name" value={name} onChange={(e) => setName(e.target.value)} required /></FormField>
        <FormField label="Format">
          <select className={selectClass} aria-label="Format" value={format} onChange={(e) => setFormat(e.target.value as 'raw' | 'qcow2')}>
            <option value="qcow2">qcow2</option><option value="raw">raw</option>
          </select>
        </FormField>
        {run.isError && <ProblemBox error={run.error} />}
        <div className="flex justify-end gap-2">
          <Button variant="ghost" onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" loading={run.isPending}>Upload</Button>
        </div>
      </form>
    </Dialog>
  )
}

function ResizeVolume({ v, onClose }: { v: Volume; onClose: () => void }) {
  const [size, setSize] = useState(String(Math.ceil(v.size_bytes / GIB) + 1))
  const run = useStorageChange(storage.resizeVolume, 'Resize requested')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    run.mutate({ volumeId: v.id, sizeGib: Number(size) }, { onSuccess: onClose })
  }
  return (
    <Dialog open onClose={onClose} title={`Resize ${v.name}`} description={`Now ${formatBytes(v.size_bytes)}; volumes only grow.`}>
      <form onSubmit={submit} className="space-y-3" aria-label="Resize volume">
        <FormField label="New size GiB"><input className={inputClass} type="number" min="1" aria-label="New size GiB" value={size} onChange={(e) => setSize(e.target.value)} required /></FormField>
        {run.isError && <ProblemBox error={run.error} />}
        <div className="flex justify-end gap-2">
          <Button variant="ghost" onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" loading={run.isPending}>Resize</Button>
        </div>
      </form>
    </Dialog>
  )
}

function CloneVolume({ v, onClose }: { v: Volume; onClose: () => void }) {
  const [name, setName] = useState(`${v.name.replace(/\.(qcow2|raw|img)$/, '')}-copy`)
  const run = useStorageChange(storage.cloneVolume, 'Clone requested')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    run.mutate({ volumeId: v.id, name }, { onSuccess: onClose })
  }
  return (
    <Dialog open onClose={onClose} title={`Clone ${v.name}`} description="A full copy in the same pool.">
      <form onSubmit={submit} className="space-y-3" aria-label="Clone volume">
        <FormField label="Name of the copy"><input className={inputClass} aria-label="Clone name" value={name} onChange={(e) => setName(e.target.value)} required /></FormField>
        {run.isError && <ProblemBox error={run.error} />}
        <div className="flex justify-end gap-2">
          <Button variant="ghost" onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" loading={run.isPending}>Clone</Button>
        </div>
      </form>
    </Dialog>
  )
}

function DeleteVolume({ v, onClose }: { v: Volume; onClose: () => void }) {
  const [force, setForce] = useState(false)
  const run = useStorageChange(storage.deleteVolume, 'Deletion requested')
  const attached = v.attached_to.length > 0
  return (
    <Dialog open onClose={onClose} title={`Delete ${v.name}?`} description="Its data is gone for good.">
      <div className="space-y-3">
        {attached && (
          <>
            <p className="text-sm text-warn">Attached to {v.attached_to.map((a) => `${a.vm_name} (${a.disk_id})`).join(', ')}.</p>
            <Checkbox checked={force} onChange={setForce}>Detach it from those VMs first (force)</Checkbox>
          </>
        )}
        {run.isError && <ProblemBox error={run.error} />}
        <div className="flex justify-end gap-2">
          <Button variant="ghost" onClick={onClose}>Cancel</Button>
          <Button variant="danger" loading={run.isPending} disabled={attached && !force}
            onClick={() => run.mutate({ volumeId: v.id, force }, { onSuccess: onClose })}>Delete volume</Button>
        </div>
      </div>
    </Dialog>
  )
}
