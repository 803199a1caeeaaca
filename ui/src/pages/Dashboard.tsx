import { Link } from 'react-router'
import { Cpu, LayoutDashboard, MemoryStick, Monitor, Server } from 'lucide-react'
import { Cell, Pie, PieChart, ResponsiveContainer, Tooltip } from 'recharts'
import { useStats, useVms } from '../lib/api/hooks'
import { Card, PageHeader } from '../components/ui/Card'
import { StateBadge } from '../components/ui/StateBadge'
import { EmptyState, ErrorState, Spinner } from '../components/ui/Feedback'
import { UsageBar } from '../components/ui/UsageBar'
import { formatMiB, formatNumber, pct, timeAgo } from '../lib/format'
import { HOST_STATES, VM_STATES, type Stats } from '../lib/api/types'

const STATE_COLOR: Record<string, string> = {
  running: 'var(--lq-ok)',
  connected: 'var(--lq-ok)',
  stopped: 'var(--lq-idle)',
  pending: 'var(--lq-info)',
  starting: 'var(--lq-info)',
  stopping: 'var(--lq-info)',
  migrating: 'var(--lq-info)',
  paused: 'var(--lq-warn)',
  maintenance: 'var(--lq-warn)',
  disconnected: 'var(--lq-warn)',
  error: 'var(--lq-bad)',
  down: 'var(--lq-bad)',
  deleted: 'var(--lq-border-strong)',
}

export default function Dashboard() {
  const stats = useStats()
  return (
    <>
      <PageHeader title="Dashboard" icon={<LayoutDashboard className="size-5" />} subtitle="Your LimiQuantix inventory at a glance, updated live." />
      {stats.isPending ? (
        <Spinner label="Loading statistics…" />
      ) : stats.isError && !stats.data ? (
        <ErrorState error={stats.error} onRetry={() => stats.refetch()} title="Could not load statistics" />
      ) : (
        <MetricCards s={stats.data!} />
      )}
      <RecentVms />
    </>
  )
}

function Breakdown({ byState, order, total, linkBase }: { byState: Record<string, number | undefined>; order: string[]; total: number; linkBase: string }) {
  const data = order.map((s) => ({ name: s, value: byState[s] ?? 0 })).filter((d) => d.value > 0 && d.name !== 'deleted')
  return (
    <div className="flex items-center gap-4">
      <div className="size-24 shrink-0">
        {data.length ? (
          <ResponsiveContainer width="100%" height="100%">
            <PieChart>
              <Pie data={data} dataKey="value" nameKey="name" innerRadius={30} outerRadius={46} paddingAngle={data.length > 1 ? 2 : 0} stroke="none" isAnimationActive={false}>
                {data.map((d) => (
                  <Cell key={d.name} fill={STATE_COLOR[d.name] ?? 'var(--lq-idle)'} />
                ))}
              </Pie>
              <Tooltip
                contentStyle={{ background: 'var(--lq-elevated)', border: '1px solid var(--lq-border-strong)', borderRadius: 8, fontSize: 12 }}
                itemStyle={{ color: 'var(--lq-fg)' }}
              />
            </PieChart>
          </ResponsiveContainer>
        ) : (
          <div className="size-24 rounded-full border-[10px] border-surface-2" />
        )}
      </div>
      <ul className="flex min-w-0 flex-1 flex-col gap-1 text-sm">
        {data.length === 0 && <li className="text-muted">None yet</li>}
        {data.map((d) => (
          <li key={d.name} className="flex items-center gap-2">
            <span className="inline-block size-2 shrink-0 rounded-full" style={{ background: STATE_COLOR[d.name] }} />
            <Link to={`${linkBase}${d.name}`} className="capitalize text-muted hover:text-fg hover:underline">
              {d.name}
            </Link>
            <span className="ml-auto tabular-nums">{formatNumber(d.value)}</span>
            <span className="w-10 text-right text-xs text-subtle tabular-nums">{Math.round(pct(d.value, total))}%</span>
          </li>
        ))}
      </ul>
    </div>
  )
}

function Metric({ icon, label, value, children, to }: { icon: React.ReactNode; label: string; value: React.ReactNode; children: React.ReactNode; to?: string }) {
  return (
    <section className="flex flex-col gap-4 rounded-xl border border-border bg-surface p-4" data-testid={`metric-${label.toLowerCase().replace(/\s+/g, '-')}`}>
      <div className="flex items-center gap-3">
        <div className="rounded-lg bg-accent-soft p-2 text-accent">{icon}</div>
        <div>
          <p className="text-xs font-medium tracking-wide text-subtle uppercase">{label}</p>
          <p className="text-2xl font-semibold tabular-nums">{to ? <Link to={to} className="hover:text-accent">{value}</Link> : value}</p>
        </div>
      </div>
      {children}
    </section>
  )
}

function MetricCards({ s }: { s: Stats }) {
  const cpuP = pct(s.cpu.allocated, s.cpu.capacity)
  const memP = pct(s.memory_mib.allocated, s.memory_mib.capacity)
  return (
    <div className="grid gap-4 md:grid-cols-2 xl:grid-cols-4">
      <Metric icon={<Monitor className="size-5" />} label="Virtual machines" value={formatNumber(s.vms.total)} to="/vms">
        <Breakdown byState={s.vms.by_state} order={VM_STATES} total={s.vms.total} linkBase="/vms?state=" />
      </Metric>
      <Metric icon={<Server className="size-5" />} label="Hosts" value={formatNumber(s.hosts.total)} to="/hosts">
        <Breakdown byState={s.hosts.by_state} order={HOST_STATES} total={s.hosts.total} linkBase="/hosts?state=" />
      </Metric>
      <Metric icon={<Cpu className="size-5" />} label="CPU allocated" value={`${Math.round(cpuP)}%`}>
        <UsageBar used={s.cpu.allocated} capacity={s.cpu.capacity} />
        <p className="text-sm text-muted">
          <span className="text-fg tabular-nums">{formatNumber(s.cpu.allocated)}</span> of {formatNumber(s.cpu.capacity)} vCPUs on connected hosts
        </p>
      </Metric>
      <Metric icon={<MemoryStick className="size-5" />} label="Memory allocated" value={`${Math.round(memP)}%`}>
        <UsageBar used={s.memory_mib.allocated} capacity={s.memory_mib.capacity} />
        <p className="text-sm text-muted">
          <span className="text-fg tabular-nums">{formatMiB(s.memory_mib.allocated)}</span> of {formatMiB(s.memory_mib.capacity)} on connected hosts
        </p>
      </Metric>
    </div>
  )
}

function RecentVms() {
  const vms = useVms({ sort: '-updated_at', limit: 10 })
  return (
    <Card
      title="Recently changed VMs"
      className="mt-4"
      bodyClassName="p-0"
      actions={
        <Link to="/vms?sort=-updated_at" className="text-xs text-accent hover:underline">
          All VMs →
        </Link>
      }
    >
      {vms.isPending ? (
        <Spinner />
      ) : vms.isError && !vms.data ? (
        <ErrorState error={vms.error} onRetry={() => vms.refetch()} title="Could not load VMs" />
      ) : vms.data!.items.length === 0 ? (
        <EmptyState icon={<Monitor className="size-5" />} title="No virtual machines yet">
          <Link to="/vms" className="text-accent hover:underline">
            Go to Virtual Machines to create one
          </Link>
        </EmptyState>
      ) : (
        <table className="w-full text-sm" data-testid="recent-vms">
          <thead className="border-b border-border text-left text-[11px] tracking-wide text-subtle uppercase">
            <tr>
              <th className="py-2 pr-3 pl-4 font-medium">Name</th>
              <th className="py-2 pr-3 font-medium">State</th>
              <th className="py-2 pr-3 font-medium">Host</th>
              <th className="py-2 pr-3 text-right font-medium">vCPUs</th>
              <th className="py-2 pr-3 text-right font-medium">Memory</th>
              <th className="py-2 pr-4 text-right font-medium">Changed</th>
            </tr>
          </thead>
          <tbody>
            {vms.data!.items.map((vm) => (
              <tr key={vm.id} className="border-b border-border/50 last:border-0 hover:bg-surface-2/60" data-vm-name={vm.name} data-state={vm.state}>
                <td className="py-2 pr-3 pl-4">
                  <Link to={`/vms/${vm.id}`} className="font-medium hover:text-accent hover:underline">
                    {vm.name}
                  </Link>
                </td>
                <td className="py-2 pr-3">
                  <StateBadge state={vm.state} />
                </td>
                <td className="py-2 pr-3 text-muted">
                  {vm.host_id ? (
                    <Link to={`/hosts/${vm.host_id}`} className="hover:text-accent hover:underline">
                      {vm.host_name ?? vm.host_id}
                    </Link>
                  ) : (
                    <span className="text-subtle">—</span>
                  )}
                </td>
                <td className="py-2 pr-3 text-right tabular-nums">{vm.vcpus}</td>
                <td className="py-2 pr-3 text-right tabular-nums">{formatMiB(vm.memory_mib)}</td>
                <td className="py-2 pr-4 text-right text-xs text-subtle" title={vm.updated_at}>
                  {timeAgo(vm.updated_at)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  )
}
