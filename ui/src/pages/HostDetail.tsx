/**
 * `/hosts/:id`: one host. Tabs (kept in the URL as `?tab=`): Summary, VMs (the VM browser
 * fixed to the host), Hardware (CPUs, memory, URI, overcommit, labels with an editor),
 * Storage (pools attached here, with this host's state of each), Network (virtual networks
 * realised here), Monitoring and Events; the header keeps the maintenance action.
 */
import { useState } from 'react'
import { Link, useParams, useSearchParams } from 'react-router'
import { ChevronRight, Server } from 'lucide-react'
import { useHost } from '../lib/api/hooks'
import { Card, Field, PageHeader } from '../components/ui/Card'
import { StateBadge } from '../components/ui/StateBadge'
import { ErrorState, Spinner } from '../components/ui/Feedback'
import { Tabs } from '../components/ui/Tabs'
import { UsageBar } from '../components/ui/UsageBar'
import { HostMaintenanceButton } from '../components/cluster/HostActions'
import { EntityHistory } from '../components/history/EntityHistory'
import { MonitoringPanel } from '../components/metrics/MonitoringPanel'
import { VmBrowser, DEFAULT_FILTERS, type VmFilters } from '../components/vm/VmBrowser'
import { cpuCapacity, memCapacity } from '../components/host/HostTable'
import { HostHardware } from '../components/host/HostHardware'
import { HostStorage } from '../components/host/HostStorage'
import { HostNetworks } from '../components/host/HostNetworks'
import { LabelChips } from '../components/host/HostLabels'
import { formatDateTime, formatMiB, timeAgo } from '../lib/format'
import type { Host } from '../lib/api/types'

const TABS = ['summary', 'vms', 'hardware', 'storage', 'network', 'monitoring', 'events'] as const
type Tab = (typeof TABS)[number]

export default function HostDetail() {
  const { id = '' } = useParams()
  const host = useHost(id)
  const [sp, setSp] = useSearchParams()
  const raw = sp.get('tab') ?? 'summary'
  const tab: Tab = (TABS as readonly string[]).includes(raw) ? (raw as Tab) : 'summary'
  const setTab = (t: Tab) => {
    const next = new URLSearchParams(sp)
    if (t === 'summary') next.delete('tab')
    else next.set('tab', t)
    setSp(next, { replace: true })
  }
  if (host.isPending) return <Spinner label="Loading host…" />
  if (host.isError && !host.data) return <ErrorState error={host.error} onRetry={() => host.refetch()} title="Could not load this host" />
  const h = host.data!
  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-3 flex items-center gap-1 text-xs text-subtle">
        <Link to="/hosts" className="hover:text-fg">
          Hosts
        </Link>
        <ChevronRight className="size-3" />
        <span className="text-muted">{h.name}</span>
      </nav>
      <PageHeader title={h.name} icon={<Server className="size-5" />} subtitle={<span className="font-mono text-xs">{h.uri}</span>} actions={<HostMaintenanceButton host={h} />}>
        <StateBadge state={h.state} className="ml-1" />
      </PageHeader>
      <Tabs<Tab>
        tabs={[
          { key: 'summary', label: 'Summary' },
          { key: 'vms', label: 'VMs', count: h.vm_count },
          { key: 'hardware', label: 'Hardware' },
          { key: 'storage', label: 'Storage' },
          { key: 'network', label: 'Network' },
          { key: 'monitoring', label: 'Monitoring' },
          { key: 'events', label: 'Events' },
        ]}
        value={tab}
        onChange={setTab}
        className="mb-4"
      />
      {tab === 'summary' && <Summary host={h} />}
      {tab === 'vms' && <HostVms host={h} />}
      {tab === 'hardware' && <HostHardware host={h} />}
      {tab === 'storage' && <HostStorage host={h} />}
      {tab === 'network' && <HostNetworks host={h} />}
      {tab === 'monitoring' && <MonitoringPanel entity="hosts" id={h.id} />}
      {tab === 'events' && <EntityHistory kind="host" id={h.id} current={{ ...h }} />}
    </>
  )
}

function Summary({ host: h }: { host: Host }) {
  return (
    <div className="grid gap-4 lg:grid-cols-3">
      <Card title="General" className="lg:col-span-2">
        <dl>
          <Field label="State">
            <StateBadge state={h.state} />
          </Field>
          <Field label="Id">
            <span className="font-mono text-xs">{h.id}</span>
          </Field>
          <Field label="URI">
            <span className="font-mono text-xs">{h.uri}</span>
          </Field>
          <Field label="Physical CPUs">{h.cpus}</Field>
          <Field label="Memory">{formatMiB(h.memory_mib)}</Field>
          <Field label="Overcommit">
            CPU ×{h.cpu_overcommit} · memory ×{h.memory_overcommit}
          </Field>
          {h.reason ? <Field label="Reason">{h.reason}</Field> : null}
          <Field label="Labels">
            <LabelChips labels={h.labels} />
          </Field>
          <Field label="Enrolled">{formatDateTime(h.created_at)}</Field>
          <Field label="Last change">
            {formatDateTime(h.updated_at)} <span className="text-subtle">({timeAgo(h.updated_at)})</span>
          </Field>
        </dl>
      </Card>
      <Card title="Allocation">
        <div className="flex flex-col gap-5">
          <div>
            <UsageBar used={h.allocated_vcpus} capacity={cpuCapacity(h)} label="vCPUs" />
            <p className="mt-1 text-xs text-subtle">
              {h.allocated_vcpus} of {cpuCapacity(h)} allocatable ({h.cpus} physical × {h.cpu_overcommit})
            </p>
          </div>
          <div>
            <UsageBar used={h.allocated_memory_mib} capacity={memCapacity(h)} label="Memory" />
            <p className="mt-1 text-xs text-subtle">
              {formatMiB(h.allocated_memory_mib)} of {formatMiB(memCapacity(h))} allocatable
            </p>
          </div>
          <div className="flex items-baseline justify-between border-t border-border pt-3 text-sm">
            <span className="text-muted">Virtual machines</span>
            <Link to={`/vms?host_id=${h.id}`} className="text-lg font-semibold tabular-nums hover:text-accent">
              {h.vm_count.toLocaleString()}
            </Link>
          </div>
        </div>
      </Card>
    </div>
  )
}

function HostVms({ host }: { host: Host }) {
  const [filters, setFilters] = useState<VmFilters>({ ...DEFAULT_FILTERS, host_id: host.id })
  return <VmBrowser filters={{ ...filters, host_id: host.id }} onFilters={setFilters} fixedHost height="calc(100vh - 420px)" emptyHint="No VMs are placed on this host." />
}

