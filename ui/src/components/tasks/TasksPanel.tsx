import { ChevronDown, ListChecks } from 'lucide-react'
import { useTasks } from '../../lib/api/hooks'
import { useUi } from '../../stores/ui'
import { TaskRow } from './TaskRow'
import { describeError } from '../../lib/api/errors'

/** "Recent tasks" dock at the bottom of every page; live through change invalidation. */
export function TasksPanel() {
  const open = useUi((s) => s.tasksPanelOpen)
  const setOpen = useUi((s) => s.setTasksPanelOpen)
  const tasks = useTasks({ limit: 25 })
  if (!open) return null
  const items = tasks.data?.items ?? []
  return (
    <section aria-label="Recent tasks" className="flex h-56 shrink-0 flex-col border-t border-border bg-surface">
      <header className="flex items-center gap-2 border-b border-border px-4 py-2">
        <ListChecks className="size-4 text-accent" />
        <h2 className="text-sm font-semibold">Recent tasks</h2>
        {tasks.data && <span className="text-xs text-subtle">{tasks.data.total.toLocaleString()} total</span>}
        <button onClick={() => setOpen(false)} className="ml-auto rounded p-1 text-muted hover:bg-surface-2 hover:text-fg" aria-label="Hide recent tasks">
          <ChevronDown className="size-4" />
        </button>
      </header>
      <div className="min-h-0 flex-1 overflow-y-auto">
        {tasks.isError && <p className="px-4 py-3 text-sm text-bad">{describeError(tasks.error)}</p>}
        {tasks.isPending && <p className="px-4 py-3 text-sm text-muted">Loading tasks…</p>}
        {tasks.data && items.length === 0 && <p className="px-4 py-3 text-sm text-muted">No tasks yet. Tasks appear here when you create, start, stop or delete VMs.</p>}
        {items.length > 0 && (
          <table className="w-full text-sm">
            <thead className="sticky top-0 bg-surface text-left text-[11px] tracking-wide text-subtle uppercase">
              <tr>
                <th className="py-1.5 pr-3 pl-4 font-medium">Task</th>
                <th className="py-1.5 pr-3 font-medium">Target</th>
                <th className="py-1.5 pr-3 font-medium">State</th>
                <th className="py-1.5 pr-3 font-medium">Progress</th>
                <th className="py-1.5 pr-3 font-medium">Details</th>
                <th className="py-1.5 pr-3 font-medium">By</th>
                <th className="py-1.5 pr-4 text-right font-medium">Started</th>
              </tr>
            </thead>
            <tbody>
              {items.map((t) => (
                <TaskRow key={t.id} task={t} />
              ))}
            </tbody>
          </table>
        )}
      </div>
    </section>
  )
}
