/**
 * The host page's Hardware tab: what the host's agent reported (CPUs, memory, libvirt URI),
 * the overcommit ratios that turn it into allocatable capacity, and its labels (editable).
 */
import { Link } from 'react-router'
import { Card, Field } from '../ui/Card'
import { StateBadge } from '../ui/StateBadge'
import { UsageBar } from '../ui/UsageBar'
import { HostLabelsCard } from './HostLabels'
import { cpuCapacity, memCapacity } from './HostTable'
import { formatMiB } from '../../lib/format'
import type { Host } from '../../lib/api/types'

export function HostHardware({ host: h }: { host: Host }) {
  return (
    <div className="grid gap-4 lg:grid-cols-2" data-testid="host-hardware">
      <Card title="Processors and memory">
        <dl>
          <Field label="Physical CPUs">
            <span data-testid="host-cpus">{h.cpus}</span>
          </Field>
          <Field label="Memory">
            {formatMiB(h.memory_mib)} <span className="text-subtle">({h.memory_mib.toLocaleString()} MiB)</span>
          </Field>
          <Field label="CPU overcommit">×{h.cpu_overcommit}</Field>
          <Field label="Memory overcommit">×{h.memory_overcommit}</Field>
          <Field label="Allocatable">
            {cpuCapacity(h)} vCPUs, {formatMiB(memCapacity(h))}
          </Field>
        </dl>
        <div className="mt-4 flex flex-col gap-3">
          <UsageBar used={h.allocated_vcpus} capacity={cpuCapacity(h)} label={`vCPUs allocated: ${h.allocated_vcpus} of ${cpuCapacity(h)}`} />
          <UsageBar used={h.allocated_memory_mib} capacity={memCapacity(h)} label={`Memory allocated: ${formatMiB(h.allocated_memory_mib)} of ${formatMiB(memCapacity(h))}`} />
        </div>
      </Card>
      <div className="flex flex-col gap-4">
        <Card title="Connection">
          <dl>
            <Field label="State">
              <StateBadge state={h.state} />
              {h.reason ? <span className="ml-2 text-xs text-muted">{h.reason}</span> : null}
            </Field>
            <Field label="Hypervisor URI">
              <span className="font-mono text-xs" data-testid="host-uri">
                {h.uri}
              </span>
            </Field>
            <Field label="Cluster">
              {h.cluster_id ? (
                <Link to={`/clusters/${h.cluster_id}`} className="text-accent hover:underline">
                  {h.cluster_id}
                </Link>
              ) : (
                <span className="text-subtle">None</span>
              )}
            </Field>
          </dl>
        </Card>
        <HostLabelsCard host={h} />
      </div>
    </div>
  )
}
