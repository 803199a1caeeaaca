/**
 * Which VM operations make sense now, and if not, why (the sentence becomes the disabled
 * button's tooltip). The server has the last word (409 invalid-state); these rules only
 * keep people from clicking what would be refused.
 */
import type { Vm, VmDisk } from '../../lib/api/types'

export type LifecycleAction =
  | 'start'
  | 'shutdown'
  | 'stop'
  | 'reboot'
  | 'pause'
  | 'resume'
  | 'clone'
  | 'convert-to-template'
  | 'convert-to-vm'
  | 'resize'
  | 'delete'
  | 'snapshot'
  | 'revert'
  | 'delete-snapshot'
  | 'attach-disk'
  | 'detach-disk'
  | 'resize-disk'
  | 'attach-nic'
  | 'update-nic'
  | 'detach-nic'

type VmLike = Pick<Vm, 'state'> & Partial<Pick<Vm, 'template'>>

const TRANSITIONAL = new Set(['pending', 'starting', 'stopping', 'migrating'])

/** null when `action` is possible for `vm`, otherwise the reason it is not. */
export function whyNot(action: LifecycleAction, vm: VmLike, busy: boolean): string | null {
  if (vm.state === 'deleted') return 'The VM is deleted.'
  if (busy) return 'A task is running on this VM; wait for it or cancel it.'
  if (TRANSITIONAL.has(vm.state)) return `The VM is ${vm.state}.`
  const s = vm.state
  const template = !!vm.template
  const need = (ok: boolean, why: string) => (ok ? null : why)
  switch (action) {
    case 'start':
      if (template) return 'A template cannot start: convert it to a VM, or create a VM from it.'
      return need(s === 'stopped' || s === 'error', 'The VM is already on.')
    case 'shutdown':
    case 'reboot':
    case 'pause':
      return need(s === 'running', 'The VM is not running.')
    case 'stop':
      return need(s === 'running' || s === 'paused' || s === 'error', 'The VM is not running.')
    case 'resume':
      return need(s === 'paused', 'The VM is not paused.')
    case 'clone':
      return need(template || s === 'stopped', 'Stop the VM to clone it.')
    case 'convert-to-template':
      if (template) return 'Already a template.'
      return need(s === 'stopped', 'Stop the VM first.')
    case 'convert-to-vm':
      return need(template, 'Not a template.')
    case 'resize':
      if (template) return 'Convert the template to a VM to change it.'
      return need(s === 'stopped' || s === 'running', 'Only a stopped or running VM can be resized.')
    case 'delete':
      return need(s === 'stopped' || s === 'error', 'Stop the VM first.')
    case 'snapshot':
      if (template) return 'Templates are not snapshotted.'
      return need(s === 'stopped' || s === 'running' || s === 'paused', 'The VM cannot be snapshotted now.')
    case 'revert':
    case 'delete-snapshot':
      return template ? 'Templates are not changed.' : null
    case 'attach-disk':
    case 'detach-disk':
    case 'resize-disk':
    case 'attach-nic':
    case 'update-nic':
    case 'detach-nic':
      if (template) return 'Convert the template to a VM to change its hardware.'
      return need(s === 'stopped' || s === 'running', 'Only a stopped or running VM can change hardware.')
  }
}

/** The boot disk of a running VM cannot be detached. */
export function whyNotDetach(disk: Pick<VmDisk, 'disk_id'>, vm: VmLike, busy: boolean): string | null {
  const base = whyNot('detach-disk', vm, busy)
  if (base) return base
  if (disk.disk_id === 'disk0' && vm.state !== 'stopped') return 'The boot disk of a running VM cannot be detached.'
  return null
}
