import { Link, useParams } from 'react-router'
import { ChevronRight, ListChecks } from 'lucide-react'
import { useHost, useTask, useTaskEvents } from '../lib/api/hooks'
import { Card, Field, PageHeader } from '../components/ui/Card'
import { StateBadge } from '../components/ui/StateBadge'
import { CancelTaskButton } from '../components/tasks/CancelTaskButton'
import { ErrorState, Spinner } from '../components/ui/Feedback'
import { EventTable } from '../components/events/EventTable'
import { TaskProgress, targetPath } from '../components/tasks/TaskRow'
import { duration, formatDateTime, operationLabel } from '../lib/format'

export default function TaskDetail() {
  const { id = '' } = useParams()
  const task = useTask(id)
  const events = useTaskEvents(id)
  const host = useHost(task.data?.host_id ?? undefined)
  if (task.isPending) return <Spinner label="Loading task…" />
  if (task.isError && !task.data) return <ErrorState error={task.error} onRetry={() => task.refetch()} title="Could not load this task" />
  const t = task.data!
  const target = targetPath(t)
  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-3 flex items-center gap-1 text-xs text-subtle">
        <span>Tasks</span>
        <ChevronRight className="size-3" />
        <span className="font-mono text-muted">{t.id}</span>
      </nav>
      <PageHeader
        title={`${operationLabel(t.operation)}${t.target_name ? ` · ${t.target_name}` : ''}`}
        icon={<ListChecks className="size-5" />}
        subtitle={<span className="font-mono text-xs">{t.operation}</span>}
        actions={<CancelTaskButton task={t} size="md" />}
      >
        <StateBadge state={t.state} className="ml-1" />
      </PageHeader>
      <div className="grid gap-4 lg:grid-cols-3">
        <Card title="Task" className="lg:col-span-2">
          <dl>
            <Field label="State">
              <StateBadge state={t.state} />
            </Field>
            <Field label="Progress">
              <div className="flex items-center gap-3">
                <div className="w-64">
                  <TaskProgress task={t} />
                </div>
                <span className="tabular-nums">{t.state === 'succeeded' ? 100 : t.progress}%</span>
              </div>
            </Field>
            {t.message && <Field label="Message">{t.message}</Field>}
            {t.error && (
              <Field label="Error">
                <span className="text-bad">{t.error}</span>
              </Field>
            )}
            <Field label="Target">
              {target ? (
                <Link to={target} className="text-accent hover:underline">
                  {t.target_kind.toUpperCase()} {t.target_name ?? t.target_id}
                </Link>
              ) : (
                `${t.target_kind} ${t.target_name ?? t.target_id}`
              )}
            </Field>
            {t.host_id && (
              <Field label="Host">
                <Link to={`/hosts/${t.host_id}`} className="text-accent hover:underline">
                  {host.data?.name ?? t.host_id}
                </Link>
              </Field>
            )}
            <Field label="Started by">{t.actor ?? '—'}</Field>
          </dl>
        </Card>
        <Card title="Timing">
          <dl>
            <Field label="Queued">{formatDateTime(t.created_at)}</Field>
            <Field label="Started">{formatDateTime(t.started_at)}</Field>
            <Field label="Finished">{formatDateTime(t.finished_at)}</Field>
            <Field label="Duration">{duration(t.started_at ?? t.created_at, t.finished_at)}</Field>
          </dl>
        </Card>
      </div>
      <Card title="Events of this task" className="mt-4" bodyClassName="p-2">
        <EventTable query={events} showAggregate />
      </Card>
    </>
  )
}
