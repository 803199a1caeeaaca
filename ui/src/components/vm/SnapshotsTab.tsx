/**
 * The Snapshots tab: the VM's snapshots as a tree (by `parent_id`), the current one marked
 * "now"; create (name, description, memory, quiesce), revert and delete.
 */
import { useMemo, useState } from 'react'
import { Camera, CornerDownRight, History, Trash2 } from 'lucide-react'
import { lifecycle, useSnapshots } from '../../lib/api/lifecycle'
import type { Snapshot, Vm } from '../../lib/api/types'
import { Card } from '../ui/Card'
import { Button } from '../ui/Button'
import { EmptyState, ErrorState, Spinner } from '../ui/Feedback'
import { Checkbox, FormField, inputClass } from '../ui/Form'
import { CommandDialog } from './CommandDialog'
import { buildSnapshotTree, flattenTree } from './snapshotTree'
import { whyNot } from './lifecycleRules'
import { NAME_RE } from './wizard/model'
import { cn, formatDateTime, timeAgo } from '../../lib/format'
import { useCanOnVm } from '../../lib/api/scope'

type Pending = { kind: 'create' } | { kind: 'revert' | 'delete'; snap: Snapshot } | null

export function SnapshotsTab({ vm, busy }: { vm: Vm; busy: boolean }) {
  const snaps = useSnapshots(vm.id)
  const [pending, setPending] = useState<Pending>(null)
  const canChange = useCanOnVm('vm.configure', vm)
  const rows = useMemo(() => flattenTree(buildSnapshotTree(snaps.data ?? [], vm.current_snapshot_id)), [snaps.data, vm.current_snapshot_id])
  const whyCreate = whyNot('snapshot', vm, busy)
  const whyRevert = whyNot('revert', vm, busy)
  const whyDelete = whyNot('delete-snapshot', vm, busy)

  return (
    <Card
      title={`Snapshots${snaps.data ? ` (${snaps.data.length})` : ''}`}
      actions={
        canChange && (
          <span title={whyCreate ?? 'Take a snapshot'}>
            <Button size="sm" variant="primary" icon={<Camera className="size-3.5" />} disabled={!!whyCreate} onClick={() => setPending({ kind: 'create' })}>
              Take snapshot
            </Button>
          </span>
        )
      }
      bodyClassName="p-0"
    >
      {snaps.isPending ? (
        <Spinner label="Loading snapshots…" />
      ) : snaps.isError ? (
        <ErrorState error={snaps.error} onRetry={() => snaps.refetch()} title="Could not load snapshots" />
      ) : rows.length === 0 ? (
        <EmptyState icon={<Camera className="size-5" />} title="No snapshots yet">
          A snapshot keeps the VM&apos;s disks (and optionally its memory) as they are now, to return to later.
        </EmptyState>
      ) : (
        <ul role="tree" aria-label="Snapshots" className="py-1" data-testid="snapshot-tree">
          {rows.map((n) => (
            <li
              key={n.snapshot.snapshot_id}
              role="treeitem"
              aria-level={n.depth + 1}
              aria-current={n.current ? 'true' : undefined}
              aria-selected={n.current}
              data-snapshot-id={n.snapshot.snapshot_id}
              data-snapshot-name={n.snapshot.name}
              data-parent-id={n.snapshot.parent_id ?? ''}
              className={cn('flex items-center gap-3 border-b border-border/50 px-4 py-2 text-sm last:border-0', n.current && 'bg-accent-soft/60')}
            >
              <div className="flex min-w-0 flex-1 items-center gap-2" style={{ paddingLeft: `${n.depth * 1.25}rem` }}>
                {n.depth > 0 ? <CornerDownRight className="size-3.5 shrink-0 text-subtle" /> : <Camera className={cn('size-3.5 shrink-0', n.onCurrentPath ? 'text-accent' : 'text-subtle')} />}
                <div className="min-w-0">
                  <div className="flex items-center gap-2">
                    <span className="truncate font-medium">{n.snapshot.name}</span>
                    {n.current && (
                      <span className="rounded-full border border-accent/40 bg-accent-soft px-1.5 text-[10px] font-semibold tracking-wide text-accent uppercase" data-testid="current-snapshot">
                        You are here
                      </span>
                    )}
                    {n.snapshot.memory && <span className="rounded-full border border-border px-1.5 text-[10px] text-muted">with memory</span>}
                    {n.snapshot.vm_state && <span className="text-xs text-subtle">VM was {n.snapshot.vm_state}</span>}
                  </div>
                  {n.snapshot.description && <p className="truncate text-xs text-muted">{n.snapshot.description}</p>}
                </div>
              </div>
              <span className="text-xs whitespace-nowrap text-subtle" title={formatDateTime(n.snapshot.created_at)}>
                {timeAgo(n.snapshot.created_at)}
              </span>
              {canChange && (
                <div className="flex gap-1">
                  <span title={whyRevert ?? `Return the VM to ${n.snapshot.name}`}>
                    <Button size="sm" icon={<History className="size-3.5" />} disabled={!!whyRevert} onClick={() => setPending({ kind: 'revert', snap: n.snapshot })} aria-label={`Revert to ${n.snapshot.name}`}>
                      Revert
                    </Button>
                  </span>
                  <span title={whyDelete ?? `Delete ${n.snapshot.name}`}>
                    <Button size="sm" variant="danger" icon={<Trash2 className="size-3.5" />} disabled={!!whyDelete} onClick={() => setPending({ kind: 'delete', snap: n.snapshot })} aria-label={`Delete snapshot ${n.snapshot.name}`} />
                  </span>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      {pending?.kind === 'create' && <CreateSnapshotDialog vm={vm} existing={snaps.data ?? []} onClose={() => setPending(null)} />}
      {pending?.kind === 'revert' && (
        <CommandDialog
          open
          onClose={() => setPending(null)}
          title={`Revert ${vm.name} to ${pending.snap.name}?`}
          cta="Revert"
          danger
          spec={() => ({ doing: `Reverting ${vm.name} to ${pending.snap.name}`, verb: `revert to ${pending.snap.name}`, run: () => lifecycle.revertSnapshot(vm.id, pending.snap.snapshot_id) })}
        >
          <p className="text-sm text-muted">
            The VM&apos;s disks{pending.snap.memory ? ', memory and power state' : ''} return to how they were at this snapshot. Changes made since then are lost unless you take a snapshot first.
          </p>
        </CommandDialog>
      )}
      {pending?.kind === 'delete' && (
        <CommandDialog
          open
          onClose={() => setPending(null)}
          title={`Delete snapshot ${pending.snap.name}?`}
          cta="Delete snapshot"
          danger
          spec={() => ({ doing: `Deleting snapshot ${pending.snap.name}`, verb: `delete snapshot ${pending.snap.name}`, run: () => lifecycle.deleteSnapshot(vm.id, pending.snap.snapshot_id) })}
        >
          <p className="text-sm text-muted">The VM keeps running as it is; the snapshot&apos;s children, if any, move up to its parent.</p>
        </CommandDialog>
      )}
    </Card>
  )
}

function CreateSnapshotDialog({ vm, existing, onClose }: { vm: Vm; existing: Snapshot[]; onClose: () => void }) {
  const [name, setName] = useState(() => `snap-${new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '')}`)
  const [description, setDescription] = useState('')
  const running = vm.state === 'running' || vm.state === 'paused'
  const [memory, setMemory] = useState(false)
  const [quiesce, setQuiesce] = useState(false)
  const [touched, setTouched] = useState(false)
  const n = name.trim()
  const error = !NAME_RE.test(n) ? 'Use letters, digits, dots, dashes or underscores (max 63), starting with a letter or digit.' : existing.some((s) => s.name === n) ? 'This VM already has a snapshot with this name.' : null
  return (
    <CommandDialog
      open
      onClose={onClose}
      title={`Snapshot ${vm.name}`}
      cta="Take snapshot"
      spec={() => {
        setTouched(true)
        if (error) return null
        return { doing: `Taking snapshot ${n} of ${vm.name}`, verb: `snapshot ${vm.name}`, run: () => lifecycle.createSnapshot(vm.id, { name: n, description: description.trim(), memory: running && memory, quiesce: running && quiesce }) }
      }}
    >
      <FormField label="Name" error={touched && error}>
        <input className={inputClass} value={name} onChange={(e) => setName(e.target.value)} name="name" autoComplete="off" />
      </FormField>
      <FormField label={<>Description <span className="font-normal text-subtle">(optional)</span></>}>
        <input className={inputClass} value={description} onChange={(e) => setDescription(e.target.value)} name="description" />
      </FormField>
      <Checkbox checked={running && memory} onChange={setMemory} disabled={!running} name="memory" hint={running ? 'Also saves RAM and device state: reverting resumes the VM exactly where it was.' : 'Only for a running VM.'}>
        Include memory
      </Checkbox>
      <Checkbox checked={running && quiesce} onChange={setQuiesce} disabled={!running} name="quiesce" hint="Flushes the guest's file systems first; needs the QEMU guest agent in the guest (the task fails without it).">
        Quiesce file systems
      </Checkbox>
    </CommandDialog>
  )
}
