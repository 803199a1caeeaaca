import { Link } from 'react-router'
import type { Task } from '../../lib/api/types'
import { isTaskActive } from '../../lib/api/types'
import { StateBadge } from '../ui/StateBadge'
import { ProgressBar } from '../ui/UsageBar'
import { operationLabel, timeAgo } from '../../lib/format'
import { CancelTaskButton } from './CancelTaskButton'

export function targetPath(t: Pick<Task, 'target_kind' | 'target_id'>): string | null {
  if (t.target_kind === 'vm') return `/vms/${t.target_id}`
  if (t.target_kind === 'host') return `/hosts/${t.target_id}`
  if (t.target_kind === 'volume') return '/volumes'
  return null
}

export function TaskProgress({ task }: { task: Task }) {
  const active = isTaskActive(task)
  const value = task.state === 'succeeded' ? 100 : task.progress
  return <ProgressBar value={value} active={active} tone={task.state === 'failed' ? 'bad' : task.state === 'succeeded' ? 'ok' : 'accent'} />
}

export function TaskRow({ task }: { task: Task }) {
  const target = targetPath(task)
  return (
    <tr className="border-b border-border/60 last:border-0 hover:bg-surface-2/60" data-task-id={task.id}>
      <td className="py-1.5 pr-3 pl-4">
        <Link to={`/tasks/${task.id}`} className="font-medium hover:text-accent hover:underline">
          {operationLabel(task.operation)}
        </Link>
      </td>
      <td className="max-w-48 truncate py-1.5 pr-3">
        {target ? (
          <Link to={target} className="text-muted hover:text-accent hover:underline">
            {task.target_name ?? task.target_id}
          </Link>
        ) : (
          <span className="text-muted">{task.target_name ?? task.target_id}</span>
        )}
      </td>
      <td className="py-1.5 pr-3">
        <div className="flex items-center gap-1">
          <StateBadge state={task.state} />
          <CancelTaskButton task={task} />
        </div>
      </td>
      <td className="w-40 py-1.5 pr-3">
        <div className="flex items-center gap-2">
          <TaskProgress task={task} />
          <span className="w-8 text-right text-xs text-subtle tabular-nums">{task.state === 'succeeded' ? 100 : task.progress}%</span>
        </div>
      </td>
      <td className="max-w-72 truncate py-1.5 pr-3 text-xs text-muted" title={task.error ?? task.message ?? ''}>
        {task.error ? <span className="text-bad">{task.error}</span> : task.message}
      </td>
      <td className="py-1.5 pr-3 text-xs text-subtle">{task.actor ?? '—'}</td>
      <td className="py-1.5 pr-4 text-right text-xs whitespace-nowrap text-subtle" title={task.created_at}>
        {timeAgo(task.created_at)}
      </td>
    </tr>
  )
}
