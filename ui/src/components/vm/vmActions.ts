import type { Vm } from '../../lib/api/types'
import type { VmAction } from '../../lib/api/hooks'

const TRANSITIONAL = new Set(['pending', 'starting', 'stopping', 'migrating'])

/** Whether an action makes sense for a VM now; the server still has the last word (409). */
export function canRun(action: VmAction, vm: Pick<Vm, 'state'> & Partial<Pick<Vm, 'template'>>, busy: boolean): boolean {
  if (busy || TRANSITIONAL.has(vm.state) || vm.state === 'deleted') return false
  switch (action) {
    case 'start':
      return !vm.template && (vm.state === 'stopped' || vm.state === 'error')
    case 'stop':
      return vm.state === 'running' || vm.state === 'paused'
    case 'delete':
      return true
  }
}
