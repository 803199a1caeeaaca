import { useState } from 'react'
import { Link, NavLink, useLocation } from 'react-router'
import { Activity, BellRing, Boxes, ChevronRight, Database, HardDrive, LayoutDashboard, Loader2, Monitor, Network, PanelLeftClose, PanelLeftOpen, Scale, ScrollText, Server, Shield } from 'lucide-react'
import { useHosts, useVms } from '../../lib/api/hooks'
import { useClusters } from '../../lib/api/clusters'
import { useUi } from '../../stores/ui'
import { StateDot } from '../ui/StateBadge'
import { cn } from '../../lib/format'
import type { Host } from '../../lib/api/types'

const TREE_VM_LIMIT = 50

const NAV = [
  { to: '/', label: 'Dashboard', icon: LayoutDashboard, end: true },
  { to: '/vms', label: 'Virtual Machines', icon: Monitor, end: false },
  { to: '/hosts', label: 'Hosts', icon: Server, end: false },
  { to: '/clusters', label: 'Clusters', icon: Boxes, end: false },
  { to: '/storage', label: 'Storage pools', icon: Database, end: false },
  { to: '/volumes', label: 'Volumes', icon: HardDrive, end: false },
  { to: '/networks', label: 'Virtual networks', icon: Network, end: false },
  { to: '/security-groups', label: 'Security groups', icon: Shield, end: false },
  { to: '/drs', label: 'DRS', icon: Scale, end: false },
  { to: '/monitoring', label: 'Monitoring', icon: Activity, end: false },
  { to: '/alerts', label: 'Alerts', icon: BellRing, end: false },
  { to: '/audit', label: 'Audit log', icon: ScrollText, end: false },
]

export function Sidebar() {
  const collapsed = useUi((s) => s.sidebarCollapsed)
  const toggle = useUi((s) => s.toggleSidebar)
  return (
    <aside
      className={cn(
        'flex h-full shrink-0 flex-col border-r border-border bg-surface transition-[width] duration-200',
        collapsed ? 'w-14' : 'w-64',
      )}
      aria-label="Navigation"
    >
      <div className={cn('flex h-14 items-center border-b border-border', collapsed ? 'justify-center' : 'gap-2.5 px-4')}>
        <Link to="/" className="flex items-center gap-2.5" aria-label="LimiQuantix home">
          <img src="/favicon.svg" alt="" className="size-7" />
          {!collapsed && <span className="text-[15px] font-semibold tracking-tight">LimiQuantix</span>}
        </Link>
      </div>
      <nav className="flex flex-col gap-0.5 p-2">
        {NAV.map(({ to, label, icon: Icon, end }) => (
          <NavLink
            key={to}
            to={to}
            end={end}
            title={collapsed ? label : undefined}
            className={({ isActive }) =>
              cn(
                'flex items-center gap-2.5 rounded-md px-2.5 py-1.5 text-sm transition-colors',
                collapsed && 'justify-center px-0',
                isActive ? 'bg-accent-soft text-fg font-medium' : 'text-muted hover:bg-surface-2 hover:text-fg',
              )
            }
          >
            <Icon className="size-4 shrink-0" />
            {!collapsed && label}
          </NavLink>
        ))}
      </nav>
      {!collapsed && <InventoryTree />}
      <div className={cn('mt-auto border-t border-border p-2', collapsed && 'flex justify-center')}>
        <button
          onClick={toggle}
          className="flex items-center gap-2 rounded-md px-2.5 py-1.5 text-xs text-muted hover:bg-surface-2 hover:text-fg"
          aria-label={collapsed ? 'Expand sidebar' : 'Collapse sidebar'}
          title={collapsed ? 'Expand sidebar' : 'Collapse sidebar'}
        >
          {collapsed ? <PanelLeftOpen className="size-4" /> : <PanelLeftClose className="size-4" />}
          {!collapsed && 'Collapse'}
        </button>
      </div>
    </aside>
  )
}

/** The inventory as vCenter shows it: clusters → hosts → VMs, with hosts outside every
 * cluster listed after the clusters. Without the clusters (none defined, or the user may
 * not read them) the hosts form the first level. */
function InventoryTree() {
  const hosts = useHosts({ limit: 200, sort: 'name' })
  const clusters = useClusters()
  const clustered = clusters.data?.items ?? []
  const known = new Set(clustered.map((c) => c.id))
  const standalone = hosts.data?.items.filter((h) => !h.cluster_id || !known.has(h.cluster_id)) ?? []
  return (
    <div className="flex min-h-0 flex-1 flex-col border-t border-border">
      <div className="px-4 pt-3 pb-1.5 text-[11px] font-semibold tracking-wider text-subtle uppercase">Inventory</div>
      <div className="min-h-0 flex-1 overflow-y-auto px-2 pb-2" role="tree" aria-label="Inventory">
        {hosts.isPending && <div className="px-2 py-1 text-xs text-subtle">Loading hosts…</div>}
        {hosts.isError && <div className="px-2 py-1 text-xs text-bad">Hosts unavailable</div>}
        {hosts.data?.items.length === 0 && <div className="px-2 py-1 text-xs text-subtle">No hosts enrolled yet</div>}
        {hosts.data &&
          clustered.map((c) => (
            <ClusterNode key={c.id} id={c.id} name={c.name} hosts={hosts.data.items.filter((h) => h.cluster_id === c.id)} />
          ))}
        {standalone.map((h) => <HostNode key={h.id} host={h} />)}
        {hosts.data && hosts.data.total > hosts.data.items.length && (
          <Link to="/hosts" className="block px-2 py-1 text-xs text-accent hover:underline">
            All {hosts.data.total.toLocaleString()} hosts →
          </Link>
        )}
      </div>
    </div>
  )
}

function ClusterNode({ id, name, hosts }: { id: string; name: string; hosts: Host[] }) {
  const [open, setOpen] = useState(true)
  const loc = useLocation()
  const active = loc.pathname === `/clusters/${id}`
  return (
    <div role="treeitem" aria-expanded={open} aria-selected={active} data-cluster={name}>
      <div className={cn('group flex items-center rounded-md text-sm', active ? 'bg-accent-soft' : 'hover:bg-surface-2')}>
        <button
          onClick={() => setOpen((o) => !o)}
          className="rounded p-1 text-subtle hover:text-fg"
          aria-label={open ? `Collapse ${name}` : `Expand ${name}`}
        >
          <ChevronRight className={cn('size-3.5 transition-transform', open && 'rotate-90')} />
        </button>
        <Link to={`/clusters/${id}`} className="flex min-w-0 flex-1 items-center gap-2 py-1 pr-2">
          <Boxes className="size-3.5 shrink-0 text-muted" />
          <span className="truncate font-medium">{name}</span>
          <span className="ml-auto text-[11px] text-subtle tabular-nums">{hosts.length}</span>
        </Link>
      </div>
      {open && (
        <div role="group" className="ml-4 border-l border-border pl-1.5">
          {hosts.length === 0 && <div className="px-2 py-1 text-xs text-subtle">No hosts</div>}
          {hosts.map((h) => (
            <HostNode key={h.id} host={h} />
          ))}
        </div>
      )}
    </div>
  )
}

function HostNode({ host }: { host: Host }) {
  const [open, setOpen] = useState(false)
  const loc = useLocation()
  const active = loc.pathname === `/hosts/${host.id}`
  return (
    <div role="treeitem" aria-expanded={open} aria-selected={active}>
      <div className={cn('group flex items-center rounded-md text-sm', active ? 'bg-accent-soft' : 'hover:bg-surface-2')}>
        <button
          onClick={() => setOpen((o) => !o)}
          className="rounded p-1 text-subtle hover:text-fg"
          aria-label={open ? `Collapse ${host.name}` : `Expand ${host.name}`}
        >
          <ChevronRight className={cn('size-3.5 transition-transform', open && 'rotate-90')} />
        </button>
        <Link to={`/hosts/${host.id}`} className="flex min-w-0 flex-1 items-center gap-2 py-1 pr-2">
          <Server className="size-3.5 shrink-0 text-muted" />
          <span className="truncate">{host.name}</span>
          <StateDot state={host.state} className="ml-auto" />
          <span className="text-[11px] text-subtle tabular-nums">{host.vm_count}</span>
        </Link>
      </div>
      {open && <HostVms host={host} />}
    </div>
  )
}

function HostVms({ host }: { host: Host }) {
  const vms = useVms({ host_id: host.id, limit: TREE_VM_LIMIT, sort: 'name' })
  const loc = useLocation()
  return (
    <div role="group" className="ml-4 border-l border-border pl-1.5">
      {vms.isPending && (
        <div className="flex items-center gap-1.5 px-2 py-1 text-xs text-subtle">
          <Loader2 className="size-3 animate-spin" /> Loading…
        </div>
      )}
      {vms.data?.items.length === 0 && <div className="px-2 py-1 text-xs text-subtle">No VMs</div>}
      {vms.data?.items.map((vm) => (
        <Link
          key={vm.id}
          role="treeitem"
          to={`/vms/${vm.id}`}
          className={cn(
            'flex items-center gap-2 rounded-md px-2 py-1 text-[13px]',
            loc.pathname === `/vms/${vm.id}` ? 'bg-accent-soft text-fg' : 'text-muted hover:bg-surface-2 hover:text-fg',
          )}
        >
          <Monitor className="size-3.5 shrink-0" />
          <span className="truncate">{vm.name}</span>
          <StateDot state={vm.state} className="ml-auto" />
        </Link>
      ))}
      {vms.data && vms.data.total > vms.data.items.length && (
        <Link to={`/vms?host_id=${host.id}`} className="block px-2 py-1 text-xs text-accent hover:underline">
          All {vms.data.total.toLocaleString()} VMs on {host.name} →
        </Link>
      )}
    </div>
  )
}
