import { useState } from 'react'
import { Link, useNavigate } from 'react-router'
import { ExternalLink, Monitor, Server } from 'lucide-react'
import type { Host } from '../../lib/api/types'
import { StateBadge } from '../ui/StateBadge'
import { UsageBar } from '../ui/UsageBar'
import { ContextMenu } from '../ui/ContextMenu'
import { cn, formatMiB } from '../../lib/format'

export const cpuCapacity = (h: Host) => Math.floor(h.cpus * (h.cpu_overcommit || 1))
export const memCapacity = (h: Host) => Math.floor(h.memory_mib * (h.memory_overcommit || 1))

/** Hosts with allocation bars. Right-click (or the Menu key) opens: Open, Show VMs. */
export function HostTable({ hosts }: { hosts: Host[] }) {
  const nav = useNavigate()
  const [menu, setMenu] = useState<{ x: number; y: number; host: Host } | null>(null)
  const [active, setActive] = useState(0)

  const onKeyDown = (e: React.KeyboardEvent<HTMLTableSectionElement>) => {
    const rows = [...e.currentTarget.querySelectorAll<HTMLTableRowElement>('tr[data-host-id]')]
    const i = rows.indexOf(document.activeElement as HTMLTableRowElement)
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault()
      const j = e.key === 'ArrowDown' ? Math.min(rows.length - 1, i + 1) : Math.max(0, i - 1)
      rows[j]?.focus()
      setActive(j)
    } else if (e.key === 'Enter' && i >= 0) {
      nav(`/hosts/${hosts[i].id}`)
    } else if ((e.key === 'ContextMenu' || (e.key === 'F10' && e.shiftKey)) && i >= 0) {
      e.preventDefault()
      const r = rows[i].getBoundingClientRect()
      setMenu({ x: r.left + 40, y: r.bottom, host: hosts[i] })
    }
  }

  return (
    <div className="overflow-x-auto rounded-xl border border-border bg-surface">
      <table className="w-full text-sm">
        <thead className="border-b border-border bg-surface-2/60 text-left text-[11px] tracking-wide text-subtle uppercase">
          <tr>
            <th className="py-2 pr-3 pl-4 font-medium">Name</th>
            <th className="py-2 pr-3 font-medium">State</th>
            <th className="py-2 pr-3 font-medium">CPU allocation</th>
            <th className="py-2 pr-3 font-medium">Memory allocation</th>
            <th className="py-2 pr-3 text-right font-medium">VMs</th>
            <th className="py-2 pr-4 font-medium">URI</th>
          </tr>
        </thead>
        <tbody onKeyDown={onKeyDown}>
          {hosts.map((h, i) => (
            <tr
              key={h.id}
              data-host-id={h.id}
              data-host-name={h.name}
              tabIndex={i === active ? 0 : -1}
              onFocus={() => setActive(i)}
              onContextMenu={(e) => {
                e.preventDefault()
                setMenu({ x: e.clientX, y: e.clientY, host: h })
              }}
              onDoubleClick={() => nav(`/hosts/${h.id}`)}
              className={cn('border-b border-border/50 last:border-0 hover:bg-surface-2/60 focus:bg-accent-soft focus:outline-none')}
            >
              <td className="py-2.5 pr-3 pl-4">
                <Link to={`/hosts/${h.id}`} className="flex items-center gap-2 font-medium hover:text-accent hover:underline" tabIndex={-1}>
                  <Server className="size-4 text-muted" />
                  {h.name}
                </Link>
              </td>
              <td className="py-2.5 pr-3">
                <StateBadge state={h.state} />
              </td>
              <td className="w-64 py-2.5 pr-3">
                <UsageBar used={h.allocated_vcpus} capacity={cpuCapacity(h)} label={`${h.allocated_vcpus} / ${cpuCapacity(h)} vCPUs`} compact />
              </td>
              <td className="w-64 py-2.5 pr-3">
                <UsageBar used={h.allocated_memory_mib} capacity={memCapacity(h)} label={`${formatMiB(h.allocated_memory_mib)} / ${formatMiB(memCapacity(h))}`} compact />
              </td>
              <td className="py-2.5 pr-3 text-right tabular-nums">
                <Link to={`/vms?host_id=${h.id}`} className="hover:text-accent hover:underline" tabIndex={-1}>
                  {h.vm_count.toLocaleString()}
                </Link>
              </td>
              <td className="max-w-72 truncate py-2.5 pr-4 font-mono text-xs text-subtle" title={h.uri}>
                {h.uri}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {menu && (
        <ContextMenu
          x={menu.x}
          y={menu.y}
          onClose={() => setMenu(null)}
          items={[
            { label: 'Open', icon: <ExternalLink className="size-3.5" />, onSelect: () => nav(`/hosts/${menu.host.id}`) },
            { label: 'Show VMs', icon: <Monitor className="size-3.5" />, onSelect: () => nav(`/vms?host_id=${menu.host.id}`) },
          ]}
        />
      )}
    </div>
  )
}
