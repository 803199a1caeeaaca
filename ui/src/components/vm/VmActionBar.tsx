/**
 * The actions of one VM (detail page header): power buttons, and a menu for clone,
 * convert, resize and delete. Each is disabled, with the reason as its tooltip, while the
 * VM's last task is queued or running or when the VM's state does not allow it.
 */
import { useRef, useState } from 'react'
import { ChevronDown, Copy, LayoutTemplate, Maximize2, Pause, Play, Power, RotateCw, Square, Trash2, Undo2 } from 'lucide-react'
import { useTask } from '../../lib/api/hooks'
import { lifecycle, useVmCommand, type PowerVerb } from '../../lib/api/lifecycle'
import { isTaskActive, type Vm } from '../../lib/api/types'
import { Button } from '../ui/Button'
import { ContextMenu, type MenuItem } from '../ui/ContextMenu'
import { useCanOnVm } from '../../lib/api/scope'
import { whyNot, type LifecycleAction } from './lifecycleRules'
import { VmActionDialog, type DialogKind } from './VmActionDialogs'

/** Whether the VM's last task is still queued or running. */
export function useVmBusy(vm: Pick<Vm, 'task_id'>): boolean {
  const task = useTask(vm.task_id)
  return isTaskActive(task.data)
}

export function VmActionBar({ vm }: { vm: Vm }) {
  const busyTask = useVmBusy(vm)
  const cmd = useVmCommand()
  const canPower = useCanOnVm('vm.power', vm)
  const canDelete = useCanOnVm('vm.delete', vm)
  const canCreate = useCanOnVm('vm.create', vm)
  const canConfigure = useCanOnVm('vm.configure', vm)
  const [dialog, setDialog] = useState<DialogKind | null>(null)
  const [menu, setMenu] = useState<{ x: number; y: number } | null>(null)
  const moreRef = useRef<HTMLButtonElement>(null)
  const busy = busyTask || cmd.isPending
  const why = (a: LifecycleAction) => whyNot(a, vm, busy)

  const direct = (verb: PowerVerb, doing: string) => cmd.mutate({ doing: `${doing} ${vm.name}`, verb: `${verb.replace(/-/g, ' ')} ${vm.name}`, run: () => lifecycle.action(vm.id, verb) })

  const btn = (a: LifecycleAction, label: string, icon: React.ReactNode, onClick: () => void, title: string) => {
    const reason = why(a)
    return (
      <span title={reason ?? title} className="inline-flex">
        <Button icon={icon} disabled={!!reason} onClick={onClick} aria-label={label} aria-description={reason ?? undefined}>
          {label}
        </Button>
      </span>
    )
  }

  const items: MenuItem[] = []
  if (canCreate) items.push({ label: vm.template ? 'New VM from template…' : 'Clone…', icon: <Copy className="size-4" />, onSelect: () => setDialog('clone'), disabled: !!why('clone'), title: why('clone') ?? undefined })
  if (canConfigure) {
    items.push({ label: 'Resize CPU / memory…', icon: <Maximize2 className="size-4" />, onSelect: () => setDialog('resize'), disabled: !!why('resize'), title: why('resize') ?? undefined })
    if (vm.template) items.push({ label: 'Convert to VM', icon: <Undo2 className="size-4" />, onSelect: () => direct('convert-to-vm', 'Converting to a VM:'), disabled: !!why('convert-to-vm'), title: why('convert-to-vm') ?? undefined })
    else items.push({ label: 'Convert to template', icon: <LayoutTemplate className="size-4" />, onSelect: () => direct('convert-to-template', 'Converting to a template:'), disabled: !!why('convert-to-template'), title: why('convert-to-template') ?? undefined })
  }
  if (canDelete) items.push({ label: 'Delete…', icon: <Trash2 className="size-4" />, onSelect: () => setDialog('delete'), disabled: !!why('delete'), title: why('delete') ?? undefined })

  return (
    <>
      {canPower && !vm.template && (
        <>
          {btn('start', 'Start', <Play className="size-4" />, () => direct('start', 'Starting'), 'Power on')}
          {btn('shutdown', 'Shut down', <Power className="size-4" />, () => setDialog('shutdown'), 'Ask the guest to shut down (ACPI)')}
          {btn('stop', 'Stop', <Square className="size-4" />, () => setDialog('stop'), 'Power off at once')}
          {btn('reboot', 'Reboot', <RotateCw className="size-4" />, () => setDialog('reboot'), 'Restart the guest')}
          {vm.state === 'paused'
            ? btn('resume', 'Resume', <Play className="size-4" />, () => direct('resume', 'Resuming'), 'Continue the paused VM')
            : btn('pause', 'Pause', <Pause className="size-4" />, () => direct('pause', 'Pausing'), 'Freeze the VM in memory')}
        </>
      )}
      {items.length > 0 && (
        <Button
          ref={moreRef}
          icon={<ChevronDown className="size-4" />}
          aria-haspopup="menu"
          aria-expanded={!!menu}
          onClick={() => {
            const r = moreRef.current?.getBoundingClientRect()
            setMenu(r ? { x: r.right - 220, y: r.bottom + 4 } : { x: 0, y: 0 })
          }}
          onKeyDown={(e) => {
            if (e.key === 'ArrowDown') {
              e.preventDefault()
              e.currentTarget.click()
            }
          }}
        >
          Actions
        </Button>
      )}
      {menu && (
        <ContextMenu
          x={menu.x}
          y={menu.y}
          items={items}
          onClose={() => {
            setMenu(null)
            moreRef.current?.focus()
          }}
        />
      )}
      <VmActionDialog kind={dialog} vm={vm} onClose={() => setDialog(null)} />
    </>
  )
}
