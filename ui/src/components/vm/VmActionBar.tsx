import { useState } from 'react'
import { Play, Square, Trash2 } from 'lucide-react'
import { useTask, useVmActions, type VmAction } from '../../lib/api/hooks'
import { isTaskActive, type Vm } from '../../lib/api/types'
import { Button } from '../ui/Button'
import { ConfirmAction } from './ConfirmAction'
import { canRun } from './vmActions'
import { useCan } from '../../lib/api/security'

/** Start/Stop/Delete for one VM; disabled while its last task is queued or running. */
export function VmActionBar({ vm }: { vm: Vm }) {
  const task = useTask(vm.task_id)
  const actions = useVmActions()
  const canPower = useCan('vm.power')
  const canDelete = useCan('vm.delete')
  const [confirm, setConfirm] = useState<VmAction | null>(null)
  const busy = isTaskActive(task.data) || actions.isPending
  const run = (a: VmAction) => actions.mutate({ action: a, vms: [{ id: vm.id, name: vm.name }] })
  const why = busy ? 'A task is running on this VM' : undefined
  return (
    <>
      {canPower && (
        <Button icon={<Play className="size-4" />} disabled={!canRun('start', vm, busy)} onClick={() => run('start')} title={why ?? 'Start'}>
          Start
        </Button>
      )}
      {canPower && (
        <Button icon={<Square className="size-4" />} disabled={!canRun('stop', vm, busy)} onClick={() => setConfirm('stop')} title={why ?? 'Power off'}>
          Stop
        </Button>
      )}
      {canDelete && (
        <Button variant="danger" icon={<Trash2 className="size-4" />} disabled={!canRun('delete', vm, busy)} onClick={() => setConfirm('delete')} title={why ?? 'Delete'}>
          Delete
        </Button>
      )}
      <ConfirmAction action={confirm} names={[vm.name]} onConfirm={() => confirm && run(confirm)} onClose={() => setConfirm(null)} />
    </>
  )
}
