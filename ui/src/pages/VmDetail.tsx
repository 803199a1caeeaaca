import { Link, useParams, useSearchParams } from 'react-router'
import { AlertTriangle, ChevronRight, Monitor } from 'lucide-react'
import { useTask, useVm } from '../lib/api/hooks'
import { Card, Field, PageHeader } from '../components/ui/Card'
import { StateBadge } from '../components/ui/StateBadge'
import { ErrorState, Spinner } from '../components/ui/Feedback'
import { Tabs } from '../components/ui/Tabs'
import { EntityHistory } from '../components/history/EntityHistory'
import { VmActionBar, useVmBusy } from '../components/vm/VmActionBar'
import { MigrateButton } from '../components/cluster/MigrateButton'
import { SnapshotsTab } from '../components/vm/SnapshotsTab'
import { DisksTab } from '../components/vm/DisksTab'
import { NetworkTab } from '../components/vm/NetworkTab'
import { ConsoleMount } from '../components/vm/ConsoleMount'
import { CancelTaskButton } from '../components/tasks/CancelTaskButton'
import { TemplateBadge } from '../components/ui/StateBadge'
import { MonitoringPanel } from '../components/metrics/MonitoringPanel'
import { TaskProgress } from '../components/tasks/TaskRow'
import { HaSetting } from '../components/vm/HaSetting'
import { formatDateTime, formatMiB, operationLabel, timeAgo } from '../lib/format'
import type { Vm } from '../lib/api/types'

const TABS = ['summary', 'console', 'snapshots', 'disks', 'network', 'monitoring', 'events'] as const
type Tab = (typeof TABS)[number]

export default function VmDetail() {
  const { id = '' } = useParams()
  const vm = useVm(id)
  if (vm.isPending) return <Spinner label="Loading VM…" />
  if (vm.isError && !vm.data) return <ErrorState error={vm.error} onRetry={() => vm.refetch()} title="Could not load this VM" />
  return <VmView v={vm.data!} />
}

function VmView({ v }: { v: Vm }) {
  const [sp, setSp] = useSearchParams()
  const raw = sp.get('tab') ?? 'summary'
  const tab: Tab = (TABS as readonly string[]).includes(raw) ? (raw as Tab) : 'summary'
  const setTab = (t: Tab) => {
    const next = new URLSearchParams(sp)
    if (t === 'summary') next.delete('tab')
    else next.set('tab', t)
    setSp(next, { replace: true })
  }
  const busy = useVmBusy(v)
  const gone = v.state === 'deleted'
  return (
    <>
      <Breadcrumbs vm={v} />
      <PageHeader
        title={<span data-testid="vm-name">{v.name}</span>}
        icon={<Monitor className="size-5" />}
        subtitle={
          <span className="font-mono text-xs" title="VM id">
            {v.id}
          </span>
        }
        actions={v.state !== 'deleted' && (
          <div className="flex flex-wrap items-center gap-2">
            <VmActionBar vm={v} />
            <MigrateButton vm={v} />
          </div>
        )}
      >
        <span data-testid="vm-state" data-state={v.state} className="ml-1 inline-flex">
          <StateBadge state={v.state} />
        </span>
        {v.template && <TemplateBadge />}
      </PageHeader>
      {v.state === 'deleted' && (
        <div className="mb-4 rounded-lg border border-border bg-surface-2 px-4 py-2 text-sm text-muted">This VM was deleted. Its history stays available.</div>
      )}
      <Tabs<Tab>
        tabs={[
          { key: 'summary', label: 'Summary' },
          ...(gone
            ? []
            : [
                { key: 'console' as const, label: 'Console' },
                { key: 'snapshots' as const, label: 'Snapshots', count: v.snapshot_count ?? undefined },
                { key: 'disks' as const, label: 'Disks', count: v.disks?.length },
                { key: 'network' as const, label: 'Network', count: v.nics?.length },
              ]),
          { key: 'monitoring', label: 'Monitoring' },
          { key: 'events', label: 'Events' },
        ]}
        value={tab}
        onChange={setTab}
        className="mb-4"
      />
      {tab === 'summary' && <Summary vm={v} />}
      {!gone && tab === 'console' && <ConsoleMount vm={v} />}
      {!gone && tab === 'snapshots' && <SnapshotsTab vm={v} busy={busy} />}
      {!gone && tab === 'disks' && <DisksTab vm={v} busy={busy} />}
      {!gone && tab === 'network' && <NetworkTab vm={v} busy={busy} />}
      {tab === 'monitoring' && <MonitoringPanel entity="vms" id={v.id} />}
      {tab === 'events' && <EntityHistory kind="vm" id={v.id} current={{ ...v }} />}
    </>
  )
}

function Breadcrumbs({ vm }: { vm: Vm }) {
  return (
    <nav aria-label="Breadcrumb" className="mb-3 flex items-center gap-1 text-xs text-subtle">
      <Link to="/vms" className="hover:text-fg">
        Virtual Machines
      </Link>
      {vm.host_id && (
        <>
          <ChevronRight className="size-3" />
          <Link to={`/hosts/${vm.host_id}`} className="hover:text-fg">
            {vm.host_name ?? 'Host'}
          </Link>
        </>
      )}
      <ChevronRight className="size-3" />
      <span className="text-muted">{vm.name}</span>
    </nav>
  )
}

function Summary({ vm }: { vm: Vm }) {
  return (
    <div className="grid gap-4 lg:grid-cols-3">
      <Card title="General" className="lg:col-span-2">
        {vm.error && (
          <div role="alert" className="mb-3 flex items-start gap-2 rounded-md border border-bad/30 bg-bad/10 px-3 py-2 text-sm text-bad">
            <AlertTriangle className="mt-0.5 size-4 shrink-0" />
            {vm.error}
          </div>
        )}
        <dl>
          <Field label="State">
            <StateBadge state={vm.state} />
          </Field>
          <Field label="Host">
            {vm.host_id ? (
              <Link to={`/hosts/${vm.host_id}`} className="text-accent hover:underline">
                {vm.host_name ?? vm.host_id}
              </Link>
            ) : (
              <span className="text-subtle">Not placed on a host</span>
            )}
          </Field>
          <Field label="vCPUs">{vm.vcpus}</Field>
          <Field label="Memory">
            {formatMiB(vm.memory_mib)} <span className="text-subtle">({vm.memory_mib.toLocaleString()} MiB)</span>
          </Field>
          {vm.max_vcpus || vm.max_memory_mib ? (
            <Field label="Hot-plug maxima">
              {vm.max_vcpus || vm.vcpus} vCPUs, {formatMiB(vm.max_memory_mib || vm.memory_mib)}
            </Field>
          ) : null}
          {vm.firmware && (
            <Field label="Firmware / machine">
              {vm.firmware.toUpperCase()}, {vm.machine ?? 'pc'}
              {vm.boot_order?.length ? <span className="text-subtle"> · boot {vm.boot_order.join(' → ')}</span> : null}
            </Field>
          )}
          {vm.disks && (
            <Field label="Disks">
              {vm.disks.length ? vm.disks.map((d) => `${d.disk_id} ${d.size_gib} GiB`).join(', ') : <span className="text-subtle">None</span>}
            </Field>
          )}
          {vm.nics && (
            <Field label="Network">
              {vm.nics.length ? vm.nics.map((n) => `${n.nic_id} ${n.network_id}${n.ip ? ` (${n.ip})` : ''}`).join(', ') : <span className="text-subtle">None</span>}
            </Field>
          )}
          <Field label="High availability">
            <HaSetting vm={vm} />
          </Field>
          {vm.template && <Field label="Template">Yes: it cannot start; new VMs are cloned from it.</Field>}
          {vm.clone_of && (
            <Field label="Cloned from">
              <Link to={`/vms/${vm.clone_of.vm_id}`} className="text-accent hover:underline">
                {vm.clone_of.vm_id}
              </Link>{' '}
              <span className="text-subtle">({vm.clone_of.linked ? 'linked' : 'full'} clone)</span>
            </Field>
          )}
          <Field label="Description">{vm.description || <span className="text-subtle">—</span>}</Field>
          <Field label="Created">{formatDateTime(vm.created_at)}</Field>
          <Field label="Last change">
            {formatDateTime(vm.updated_at)} <span className="text-subtle">({timeAgo(vm.updated_at)})</span>
          </Field>
          <Field label="Stream position">
            <span className="tabular-nums">{vm.seq}</span>
          </Field>
        </dl>
      </Card>
      <LastTask taskId={vm.task_id} />
    </div>
  )
}

function LastTask({ taskId }: { taskId: string | null }) {
  const task = useTask(taskId)
  return (
    <Card title="Last task">
      {!taskId ? (
        <p className="text-sm text-muted">No task yet.</p>
      ) : task.isPending ? (
        <Spinner />
      ) : task.isError ? (
        <p className="text-sm text-bad">{task.error.message}</p>
      ) : (
        <div className="flex flex-col gap-3 text-sm">
          <div className="flex items-center justify-between gap-2">
            <Link to={`/tasks/${task.data.id}`} className="font-medium text-accent hover:underline">
              {operationLabel(task.data.operation)}
            </Link>
            <div className="flex items-center gap-1">
              <CancelTaskButton task={task.data} />
              <StateBadge state={task.data.state} />
            </div>
          </div>
          <TaskProgress task={task.data} />
          {task.data.message && <p className="text-muted">{task.data.message}</p>}
          {task.data.error && <p className="text-bad">{task.data.error}</p>}
          <p className="text-xs text-subtle">
            {task.data.actor ? `By ${task.data.actor} · ` : ''}
            {timeAgo(task.data.created_at)}
          </p>
        </div>
      )}
    </Card>
  )
}

