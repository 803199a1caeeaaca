/** Cancel for a queued or running task; the server decides whether it is still safe. */
import { Ban } from 'lucide-react'
import { Button } from '../ui/Button'
import { useCancelTask } from '../../lib/api/lifecycle'
import { useCan } from '../../lib/api/security'
import { isTaskActive, type Task } from '../../lib/api/types'

/** VM tasks while queued or running; volume tasks only while queued (once dispatched to
 * the host they cannot be taken back, docs/storage.md). */
export function canCancel(task: Pick<Task, 'state' | 'target_kind'> & Partial<Pick<Task, 'cancellable'>>): boolean {
  if (task.target_kind === 'volume') return task.state === 'queued' && task.cancellable !== false
  return isTaskActive(task) && task.target_kind === 'vm' && task.cancellable !== false
}

export function CancelTaskButton({ task, size = 'sm' }: { task: Task; size?: 'sm' | 'md' }) {
  const cancel = useCancelTask()
  const mayPower = useCan('vm.power')
  const mayStorage = useCan('storage.manage')
  const allowed = mayPower && (task.target_kind !== 'volume' || mayStorage)
  if (!allowed || !canCancel(task)) return null
  return (
    <Button
      size={size}
      variant="ghost"
      icon={<Ban className="size-3.5" />}
      loading={cancel.isPending}
      onClick={(e) => {
        e.stopPropagation()
        cancel.mutate(task.id)
      }}
      title="Cancel this task where that is safe"
      aria-label={`Cancel task ${task.operation}`}
    >
      Cancel
    </Button>
  )
}
