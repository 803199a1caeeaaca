/**
 * The Disks tab: the VM's disks (size, bus, pool, volume); attach a new disk, grow one,
 * detach one (the boot disk of a running VM cannot be detached).
 */
import { useState } from 'react'
import { Expand, HardDrive, Plus, Unplug } from 'lucide-react'
import { lifecycle, useDisks } from '../../lib/api/lifecycle'
import { DISK_BUSES, type DiskBus, type Vm, type VmDisk } from '../../lib/api/types'
import { Card } from '../ui/Card'
import { Button } from '../ui/Button'
import { EmptyState, ErrorState, Spinner } from '../ui/Feedback'
import { Checkbox, FormField, inputClass, selectClass } from '../ui/Form'
import { CommandDialog } from './CommandDialog'
import { whyNot, whyNotDetach } from './lifecycleRules'
import { MAX_DISK_GIB, wholeIn } from './wizard/model'
import { useCanOnVm } from '../../lib/api/scope'
import { useStoragePools } from '../../lib/api/storage'
import { useFleetDefaultId } from '../../lib/api/settings'
import { PoolSelect } from './ResourcePickers'

type Pending = { kind: 'attach' } | { kind: 'grow' | 'detach'; disk: VmDisk } | null

export function DisksTab({ vm, busy }: { vm: Vm; busy: boolean }) {
  const disks = useDisks(vm)
  const [pending, setPending] = useState<Pending>(null)
  const canChange = useCanOnVm('vm.configure', vm)
  const whyAttach = whyNot('attach-disk', vm, busy)
  const whyGrow = whyNot('resize-disk', vm, busy)
  const items = disks.data ?? []
  return (
    <Card
      title={`Disks${disks.data ? ` (${items.length})` : ''}`}
      actions={
        canChange && (
          <span title={whyAttach ?? 'Add a new disk'}>
            <Button size="sm" variant="primary" icon={<Plus className="size-3.5" />} disabled={!!whyAttach} onClick={() => setPending({ kind: 'attach' })}>
              Attach disk
            </Button>
          </span>
        )
      }
      bodyClassName="p-0"
    >
      {disks.isPending ? (
        <Spinner label="Loading disks…" />
      ) : disks.isError ? (
        <ErrorState error={disks.error} onRetry={() => disks.refetch()} title="Could not load disks" />
      ) : items.length === 0 ? (
        <EmptyState icon={<HardDrive className="size-5" />} title="No disks" />
      ) : (
        <table className="w-full text-sm" data-testid="disks">
          <thead className="border-b border-border text-left text-[11px] tracking-wide text-subtle uppercase">
            <tr>
              <th className="py-2 pr-3 pl-4 font-medium">Disk</th>
              <th className="py-2 pr-3 text-right font-medium">Size</th>
              <th className="py-2 pr-3 font-medium">Bus</th>
              <th className="py-2 pr-3 font-medium">Pool</th>
              <th className="py-2 pr-3 font-medium">Volume</th>
              <th className="py-2 pr-4" />
            </tr>
          </thead>
          <tbody>
            {items.map((d) => {
              const whyDetach = whyNotDetach(d, vm, busy)
              return (
                <tr key={d.disk_id} data-disk-id={d.disk_id} className="border-b border-border/60 last:border-0">
                  <td className="py-2 pr-3 pl-4 font-mono text-xs">
                    {d.disk_id}
                    {d.disk_id === 'disk0' && <span className="ml-1 font-sans text-subtle">boot</span>}
                    {d.device === 'cdrom' && <span className="ml-1 font-sans text-subtle">CD-ROM</span>}
                  </td>
                  <td className="py-2 pr-3 text-right tabular-nums">{d.size_gib} GiB</td>
                  <td className="py-2 pr-3">{d.bus}</td>
                  <td className="py-2 pr-3">{d.pool_id}</td>
                  <td className="max-w-64 truncate py-2 pr-3 font-mono text-xs text-muted" title={d.volume ?? ''}>
                    {d.volume || `${vm.id}-${d.disk_id}.qcow2`}
                  </td>
                  <td className="py-2 pr-4 text-right">
                    {canChange && (
                      <div className="flex justify-end gap-1">
                        <span title={whyGrow ?? 'Make the disk larger'}>
                          <Button size="sm" icon={<Expand className="size-3.5" />} disabled={!!whyGrow} onClick={() => setPending({ kind: 'grow', disk: d })} aria-label={`Grow ${d.disk_id}`}>
                            Grow
                          </Button>
                        </span>
                        <span title={whyDetach ?? 'Remove the disk from the VM'}>
                          <Button size="sm" variant="danger" icon={<Unplug className="size-3.5" />} disabled={!!whyDetach} onClick={() => setPending({ kind: 'detach', disk: d })} aria-label={`Detach ${d.disk_id}`}>
                            Detach
                          </Button>
                        </span>
                      </div>
                    )}
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
      {pending?.kind === 'attach' && <AttachDiskDialog vm={vm} onClose={() => setPending(null)} />}
      {pending?.kind === 'grow' && <GrowDiskDialog vm={vm} disk={pending.disk} onClose={() => setPending(null)} />}
      {pending?.kind === 'detach' && <DetachDiskDialog vm={vm} disk={pending.disk} onClose={() => setPending(null)} />}
    </Card>
  )
}

function AttachDiskDialog({ vm, onClose }: { vm: Vm; onClose: () => void }) {
  const [size, setSize] = useState('10')
  const [bus, setBus] = useState<DiskBus>('virtio')
  const fleetPool = useFleetDefaultId('default_pool_id')
  const [typedPool, setPool] = useState<string | null>(null)
  const pool = typedPool ?? fleetPool
  const [touched, setTouched] = useState(false)
  const pools = useStoragePools()
  const gib = wholeIn(size, 1, MAX_DISK_GIB)
  return (
    <CommandDialog
      open
      onClose={onClose}
      title={`Attach a disk to ${vm.name}`}
      description={vm.state === 'running' ? 'Hot-plugged into the running VM.' : undefined}
      cta="Attach"
      spec={() => {
        setTouched(true)
        if (gib === null || !pool.trim()) return null
        return { doing: `Attaching a ${gib} GiB disk to ${vm.name}`, verb: `attach a disk to ${vm.name}`, run: () => lifecycle.attachDisk(vm.id, { size_gib: gib, bus, pool_id: pool.trim() }) }
      }}
    >
      <div className="grid grid-cols-3 gap-4">
        <FormField label="Size (GiB)" error={touched && gib === null && `Whole GiB, 1 to ${MAX_DISK_GIB}.`}>
          <input className={inputClass} type="number" min={1} value={size} onChange={(e) => setSize(e.target.value)} name="size_gib" />
        </FormField>
        <FormField label="Bus">
          <select className={selectClass} value={bus} onChange={(e) => setBus(e.target.value as DiskBus)} name="bus">
            {DISK_BUSES.map((b) => (
              <option key={b}>{b}</option>
            ))}
          </select>
        </FormField>
        <FormField label="Pool" error={touched && !pool.trim() && 'Choose a pool.'}>
          <PoolSelect value={pool} onChange={setPool} pools={pools.data?.items} hostId={vm.host_id ?? ''} name="pool_id" />
        </FormField>
      </div>
    </CommandDialog>
  )
}

function GrowDiskDialog({ vm, disk, onClose }: { vm: Vm; disk: VmDisk; onClose: () => void }) {
  const [size, setSize] = useState(String(disk.size_gib * 2))
  const [touched, setTouched] = useState(false)
  const gib = wholeIn(size, disk.size_gib + 1, MAX_DISK_GIB)
  return (
    <CommandDialog
      open
      onClose={onClose}
      title={`Grow ${disk.disk_id} of ${vm.name}`}
      description={`Now ${disk.size_gib} GiB. Disks only grow; the guest still has to extend its partition and file system.`}
      cta="Grow"
      spec={() => {
        setTouched(true)
        if (gib === null) return null
        return { doing: `Growing ${disk.disk_id} of ${vm.name} to ${gib} GiB`, verb: `grow ${disk.disk_id}`, run: () => lifecycle.resizeDisk(vm.id, disk.disk_id, gib) }
      }}
    >
      <FormField label="New size (GiB)" error={touched && gib === null && `More than ${disk.size_gib}, at most ${MAX_DISK_GIB}.`}>
        <input className={inputClass} type="number" min={disk.size_gib + 1} value={size} onChange={(e) => setSize(e.target.value)} name="size_gib" />
      </FormField>
    </CommandDialog>
  )
}

function DetachDiskDialog({ vm, disk, onClose }: { vm: Vm; disk: VmDisk; onClose: () => void }) {
  const [del, setDel] = useState(false)
  return (
    <CommandDialog
      open
      onClose={onClose}
      title={`Detach ${disk.disk_id} from ${vm.name}?`}
      cta="Detach"
      danger
      spec={() => ({ doing: `Detaching ${disk.disk_id} from ${vm.name}`, verb: `detach ${disk.disk_id}`, run: () => lifecycle.detachDisk(vm.id, disk.disk_id, del) })}
    >
      <p className="text-sm text-muted">The guest loses the disk{vm.state === 'running' ? ' at once (unmount it inside the guest first)' : ''}.</p>
      <Checkbox checked={del} onChange={setDel} name="delete_volume" hint="Otherwise the volume stays in its pool.">
        Also delete the volume and its data
      </Checkbox>
    </CommandDialog>
  )
}
