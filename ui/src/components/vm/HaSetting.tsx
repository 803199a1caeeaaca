/**
 * A VM's HA protection on its Summary: on or off and the restart priority, with an Edit
 * dialog that sends `POST /vms/{id}/actions/set-ha {enabled, priority}` (docs/ha.md). A
 * template never runs, so it has nothing to protect and offers no editing.
 */
import { useState } from 'react'
import { Pencil, ShieldCheck } from 'lucide-react'
import { Button } from '../ui/Button'
import { Checkbox, FormField, inputClass } from '../ui/Form'
import { CommandDialog } from './CommandDialog'
import { useCanOnVm } from '../../lib/api/scope'
import { lifecycle } from '../../lib/api/lifecycle'
import { wholeIn, MAX_HA_PRIORITY } from './wizard/model'
import type { Vm } from '../../lib/api/types'

/** "On · priority 10", "On · cluster default priority" or "Off". */
export function haText(vm: Pick<Vm, 'ha_enabled' | 'ha_priority'>): string {
  if (!vm.ha_enabled) return 'Off'
  return vm.ha_priority ? `On · priority ${vm.ha_priority}` : 'On · cluster default priority'
}

export function HaSetting({ vm }: { vm: Vm }) {
  const canConfigure = useCanOnVm('vm.configure', vm)
  const [open, setOpen] = useState(false)
  const editable = canConfigure && !vm.template && vm.state !== 'deleted'
  return (
    <span className="inline-flex flex-wrap items-center gap-2">
      <span data-testid="vm-ha" data-ha={vm.ha_enabled ? 'on' : 'off'} className={vm.ha_enabled ? 'inline-flex items-center gap-1 text-ok' : 'text-muted'}>
        {vm.ha_enabled && <ShieldCheck className="size-3.5" aria-hidden />}
        {haText(vm)}
      </span>
      {editable && (
        <Button size="sm" variant="ghost" icon={<Pencil className="size-3.5" />} onClick={() => setOpen(true)} aria-label="Edit high availability">
          Edit
        </Button>
      )}
      {open && <HaDialog vm={vm} onClose={() => setOpen(false)} />}
    </span>
  )
}

function HaDialog({ vm, onClose }: { vm: Vm; onClose: () => void }) {
  const [enabled, setEnabled] = useState(!!vm.ha_enabled)
  const [priority, setPriority] = useState(String(vm.ha_priority ?? 0))
  const [tried, setTried] = useState(false)
  const n = wholeIn(priority, 0, MAX_HA_PRIORITY)
  const error = tried && n === null ? `A whole number between 0 and ${MAX_HA_PRIORITY}.` : undefined
  return (
    <CommandDialog
      open
      onClose={onClose}
      title={`High availability of ${vm.name}`}
      description="When its host fails, a protected VM that was running is restarted on another host of its cluster, highest priority first."
      cta="Save"
      spec={() => {
        setTried(true)
        if (n === null) return null
        if (enabled === !!vm.ha_enabled && n === (vm.ha_priority ?? 0)) {
          onClose()
          return null
        }
        return { doing: enabled ? `HA on for ${vm.name}, priority ${n}` : `HA off for ${vm.name}`, verb: `change HA of ${vm.name}`, run: () => lifecycle.setHa(vm.id, { enabled, priority: n }) }
      }}
    >
      <Checkbox checked={enabled} onChange={setEnabled} name="ha_enabled">
        Restart this VM on another host when its host fails
      </Checkbox>
      <FormField label="Restart priority" error={error} hint={`0\u2013${MAX_HA_PRIORITY}; higher restarts first; 0 takes the cluster\u2019s default.`}>
        <input className={inputClass} type="number" min={0} max={MAX_HA_PRIORITY} value={priority} onChange={(e) => setPriority(e.target.value)} name="ha_priority" {...(error ? { 'aria-invalid': true } : {})} />
      </FormField>
    </CommandDialog>
  )
}
