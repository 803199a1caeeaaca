/** The option dialogs of the VM actions: shutdown, stop, reboot, clone, resize, delete. */
import { useState } from 'react'
import { useNavigate } from 'react-router'
import { CommandDialog } from './CommandDialog'
import { Checkbox, FormField, inputClass } from '../ui/Form'
import { lifecycle } from '../../lib/api/lifecycle'
import { useCan } from '../../lib/api/security'
import { useFleetSettings } from '../../lib/api/settings'
import type { Vm } from '../../lib/api/types'
import { NAME_RE, wholeIn } from './wizard/model'
import { formatMiB } from '../../lib/format'

export type DialogKind = 'shutdown' | 'stop' | 'reboot' | 'clone' | 'resize' | 'delete'

export function VmActionDialog({ kind, vm, onClose }: { kind: DialogKind | null; vm: Vm; onClose: () => void }) {
  switch (kind) {
    case 'shutdown':
      return <ShutdownDialog vm={vm} onClose={onClose} />
    case 'stop':
      return (
        <CommandDialog open onClose={onClose} title={`Stop ${vm.name}?`} cta="Power off" danger spec={() => ({ doing: `Stopping ${vm.name}`, verb: `stop ${vm.name}`, run: () => lifecycle.action(vm.id, 'stop') })}>
          <p className="text-sm text-muted">Stopping powers the VM off immediately, like pulling the plug. Unsaved data inside the guest is lost. Use Shut down to ask the guest first.</p>
        </CommandDialog>
      )
    case 'reboot':
      return <RebootDialog vm={vm} onClose={onClose} />
    case 'clone':
      return <CloneDialog vm={vm} onClose={onClose} />
    case 'resize':
      return <ResizeDialog vm={vm} onClose={onClose} />
    case 'delete':
      return <DeleteDialog vm={vm} onClose={onClose} />
    default:
      return null
  }
}

/**
 * The timeout starts at the fleet's default graceful shutdown timeout (Settings → General)
 * when the caller may read the settings; left empty, the server applies that default itself.
 */
function ShutdownDialog({ vm, onClose }: { vm: Vm; onClose: () => void }) {
  const fleet = useFleetSettings(useCan('settings.read'))
  const fleetTimeout = fleet.data?.items.find((s) => s.key === 'default_shutdown_timeout_s')?.value
  const [typed, setTimeoutS] = useState<string | null>(null)
  const timeout = typed ?? (typeof fleetTimeout === 'number' ? String(fleetTimeout) : '')
  const [force, setForce] = useState(false)
  const [touched, setTouched] = useState(false)
  const t = timeout.trim() === '' ? undefined : wholeIn(timeout, 1, 3600)
  const hint = typeof fleetTimeout === 'number' ? `How long the guest may take (fleet default ${fleetTimeout} s).` : 'How long the guest may take; empty: the fleet default.'
  return (
    <CommandDialog
      open
      onClose={onClose}
      title={`Shut down ${vm.name}`}
      description="The guest gets the ACPI power button and time to shut down cleanly."
      cta="Shut down"
      spec={() => {
        setTouched(true)
        if (t === null) return null
        return { doing: `Shutting down ${vm.name}`, verb: `shut down ${vm.name}`, run: () => lifecycle.shutdown(vm.id, t, force) }
      }}
    >
      <FormField label="Timeout (seconds)" error={touched && t === null && 'Whole seconds between 1 and 3600.'} hint={hint}>
        <input className={inputClass} type="number" min={1} max={3600} value={timeout} onChange={(e) => setTimeoutS(e.target.value)} name="timeout_s" />
      </FormField>
      <Checkbox checked={force} onChange={setForce} name="force_on_timeout" hint="Otherwise the task fails after the timeout and the VM keeps running.">
        Power off if the guest has not shut down by then
      </Checkbox>
    </CommandDialog>
  )
}

function RebootDialog({ vm, onClose }: { vm: Vm; onClose: () => void }) {
  const [hard, setHard] = useState(false)
  return (
    <CommandDialog open onClose={onClose} title={`Reboot ${vm.name}`} cta="Reboot" danger={hard} spec={() => ({ doing: `Rebooting ${vm.name}`, verb: `reboot ${vm.name}`, run: () => lifecycle.reboot(vm.id, hard) })}>
      <fieldset className="flex flex-col gap-2 text-sm">
        <legend className="sr-only">Kind of reboot</legend>
        <label className="flex items-start gap-2">
          <input type="radio" name="reboot" checked={!hard} onChange={() => setHard(false)} className="mt-1 accent-[var(--lq-accent)]" />
          <span>
            Graceful <span className="block text-xs text-subtle">Asks the guest to restart (ACPI).</span>
          </span>
        </label>
        <label className="flex items-start gap-2">
          <input type="radio" name="reboot" checked={hard} onChange={() => setHard(true)} className="mt-1 accent-[var(--lq-accent)]" />
          <span>
            Hard reset <span className="block text-xs text-subtle">Like the reset button: unsaved data in the guest is lost.</span>
          </span>
        </label>
      </fieldset>
    </CommandDialog>
  )
}

function CloneDialog({ vm, onClose }: { vm: Vm; onClose: () => void }) {
  const [name, setName] = useState(`${vm.name}-clone`.slice(0, 63))
  const [linked, setLinked] = useState(false)
  const [start, setStart] = useState(false)
  const [touched, setTouched] = useState(false)
  const nav = useNavigate()
  const bad = !NAME_RE.test(name.trim())
  return (
    <CommandDialog
      open
      onClose={onClose}
      title={`Clone ${vm.name}`}
      description={vm.template ? 'A new VM from this template.' : 'A new VM with copies of this VM\u2019s disks, on the same host.'}
      cta="Clone"
      spec={() => {
        setTouched(true)
        if (bad) return null
        const n = name.trim()
        return { doing: `Cloning ${vm.name} as ${n}`, verb: `clone ${vm.name}`, run: () => lifecycle.clone(vm.id, { name: n, linked, start }) }
      }}
      onDone={(res) => nav(`/vms/${res.vm_id}`)}
    >
      <FormField label="Name of the clone" error={touched && bad && 'Use letters, digits, dots, dashes or underscores (max 63), starting with a letter or digit.'}>
        <input className={inputClass} value={name} onChange={(e) => setName(e.target.value)} name="name" autoComplete="off" />
      </FormField>
      <Checkbox checked={linked} onChange={setLinked} name="linked" hint="Thin disks backed by this VM's (fast, small; the source must stay). Off: full copies.">
        Linked clone
      </Checkbox>
      <Checkbox checked={start} onChange={setStart} name="start">
        Start the clone when it is ready
      </Checkbox>
    </CommandDialog>
  )
}

function ResizeDialog({ vm, onClose }: { vm: Vm; onClose: () => void }) {
  const running = vm.state === 'running'
  const [vcpus, setVcpus] = useState(String(vm.vcpus))
  const [memory, setMemory] = useState(String(vm.memory_mib))
  const [live, setLive] = useState(running)
  const [touched, setTouched] = useState(false)
  const maxC = live && vm.max_vcpus ? vm.max_vcpus : 512
  const maxM = live && vm.max_memory_mib ? vm.max_memory_mib : 16 * 1024 * 1024
  const c = wholeIn(vcpus, 1, maxC)
  const m = wholeIn(memory, 16, maxM)
  const hot = live && !vm.max_vcpus && !vm.max_memory_mib
  return (
    <CommandDialog
      open
      onClose={onClose}
      title={`Resize ${vm.name}`}
      description={running ? (live ? 'Hot-plug into the running VM, up to its configured maxima.' : 'Takes effect at the next boot.') : 'The VM is stopped: the new size applies at its next start.'}
      cta="Resize"
      spec={() => {
        setTouched(true)
        if (c === null || m === null) return null
        return { doing: `Resizing ${vm.name}`, verb: `resize ${vm.name}`, run: () => lifecycle.resize(vm.id, { vcpus: c, memory_mib: m, live: running && live }) }
      }}
    >
      <div className="grid grid-cols-2 gap-4">
        <FormField label="vCPUs" error={touched && c === null && `A whole number between 1 and ${maxC}.`} hint={vm.max_vcpus ? `Max ${vm.max_vcpus} while running` : undefined}>
          <input className={inputClass} type="number" min={1} max={maxC} value={vcpus} onChange={(e) => setVcpus(e.target.value)} name="vcpus" />
        </FormField>
        <FormField label="Memory (MiB)" error={touched && m === null && `Whole MiB between 16 and ${maxM}.`} hint={vm.max_memory_mib ? `Max ${formatMiB(vm.max_memory_mib)} while running` : undefined}>
          <input className={inputClass} type="number" min={16} step={256} max={maxM} value={memory} onChange={(e) => setMemory(e.target.value)} name="memory_mib" />
        </FormField>
      </div>
      {running && (
        <Checkbox checked={live} onChange={setLive} name="live" hint={hot ? 'This VM was created without hot-plug maxima: only its current size is possible live.' : 'Off: the change waits for the next boot.'}>
          Apply to the running VM now (hot-plug)
        </Checkbox>
      )}
    </CommandDialog>
  )
}

function DeleteDialog({ vm, onClose }: { vm: Vm; onClose: () => void }) {
  const [keepDisks, setKeepDisks] = useState(false)
  const snaps = vm.snapshot_count ?? 0
  const [deleteSnaps, setDeleteSnaps] = useState(false)
  return (
    <CommandDialog
      open
      onClose={onClose}
      title={`Delete ${vm.name}?`}
      cta="Delete"
      danger
      spec={() => ({ doing: `Deleting ${vm.name}`, verb: `delete ${vm.name}`, run: () => lifecycle.remove(vm.id, { keep_disks: keepDisks, delete_snapshots: deleteSnaps }) })}
    >
      <p className="text-sm text-muted">Deleting removes the VM and its definition from its host. This cannot be undone; the VM&apos;s history stays available.</p>
      <Checkbox checked={keepDisks} onChange={setKeepDisks} name="keep_disks" hint="The volumes stay in their storage pool and can be attached to another VM.">
        Keep the disks
      </Checkbox>
      <Checkbox checked={deleteSnaps} onChange={setDeleteSnaps} name="delete_snapshots" hint={snaps ? `This VM has ${snaps} snapshot${snaps === 1 ? '' : 's'}: deleting it needs this.` : 'The VM has no snapshots.'}>
        Delete its snapshots too
      </Checkbox>
    </CommandDialog>
  )
}
