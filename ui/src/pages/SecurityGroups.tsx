import { useState, type FormEvent } from 'react'
import { Link } from 'react-router'
import { ChevronDown, ChevronRight, Plus, Shield, Trash2 } from 'lucide-react'
import { Button } from '../components/ui/Button'
import { PageHeader } from '../components/ui/Card'
import { Dialog } from '../components/ui/Dialog'
import { EmptyState, ErrorState, Spinner } from '../components/ui/Feedback'
import { FormField, ProblemBox, inputClass, selectClass } from '../components/ui/Form'
import { useCan } from '../lib/api/security'
import {
  networking,
  portText,
  useNetworkChange,
  useSecurityGroups,
  type Direction,
  type NewRule,
  type Protocol,
  type Rule,
  type SecurityGroup,
} from '../lib/api/networks'

/** Security groups: one expandable card per group with its inbound and outbound rules. */
export default function SecurityGroups() {
  const groups = useSecurityGroups()
  const [creating, setCreating] = useState(false)
  const canManage = useCan('network.manage')
  const names = new Map((groups.data?.items ?? []).map((g) => [g.id, g.name]))
  return (
    <div className="space-y-4">
      <PageHeader
        title="Security groups"
        icon={<Shield className="size-5" />}
        subtitle="Ordered allow rules for VM NICs; everything else inbound is dropped"
        actions={
          <div className="flex gap-2">
            <Link to="/networks" className="text-sm text-muted hover:text-fg">Networks →</Link>
            {canManage && <Button variant="primary" icon={<Plus className="size-4" />} onClick={() => setCreating(true)}>New group</Button>}
          </div>
        }
      />
      {groups.isPending ? <Spinner /> : groups.isError ? <ErrorState error={groups.error} /> : groups.data.items.length === 0 ? (
        <EmptyState title="No security groups yet" icon={<Shield className="size-6" />}>Create a group, add rules and apply it to VM NICs.</EmptyState>
      ) : (
        <div className="space-y-3" aria-label="Security groups">
          {groups.data.items.map((g) => <GroupCard key={g.id} group={g} groups={groups.data.items} names={names} canManage={canManage} />)}
        </div>
      )}
      <CreateGroup open={creating} onClose={() => setCreating(false)} />
    </div>
  )
}

function GroupCard({ group, groups, names, canManage }: { group: SecurityGroup; groups: SecurityGroup[]; names: Map<string, string>; canManage: boolean }) {
  const [open, setOpen] = useState(false)
  const remove = useNetworkChange(networking.deleteGroup, `Group ${group.name} deleted`)
  return (
    <section className="rounded-lg border border-border bg-surface" data-group={group.name} aria-label={`Group ${group.name}`}>
      <header className="flex items-center justify-between gap-2 p-3">
        <button type="button" className="flex min-w-0 items-center gap-2 text-left" aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? <ChevronDown className="size-4" /> : <ChevronRight className="size-4" />}
          <span className="truncate font-semibold">{group.name}</span>
          <span className="text-xs text-muted">
            {group.inbound.length} inbound · {group.outbound.length} outbound · {group.nics.length} NIC{group.nics.length === 1 ? '' : 's'}
          </span>
        </button>
        {canManage && (
          <Button size="sm" variant="danger" icon={<Trash2 className="size-3.5" />}
            onClick={() => window.confirm(`Delete security group ${group.name}?`) && remove.mutate(group.id)}>Delete</Button>
        )}
      </header>
      {open && (
        <div className="space-y-4 border-t border-border p-3">
          {group.description && <p className="text-sm text-muted">{group.description}</p>}
          <RuleTable title="Inbound" group={group} rules={group.inbound} names={names} canManage={canManage}
            empty="Nothing inbound is allowed (replies to the VM's own traffic still pass)." />
          <RuleTable title="Outbound" group={group} rules={group.outbound} names={names} canManage={canManage}
            empty="No outbound rules: all outbound traffic is allowed." />
          {canManage && <AddRule group={group} groups={groups} />}
          {group.nics.length > 0 && (
            <div className="text-xs text-muted">
              Applied to: {group.nics.map((n) => (
                <Link key={`${n.vm_id}/${n.nic_id}`} to={`/vms/${n.vm_id}`} className="mr-2 hover:underline">{n.vm_id.slice(0, 8)}/{n.nic_id}</Link>
              ))}
            </div>
          )}
        </div>
      )}
    </section>
  )
}

function RuleTable({ title, group, rules, names, canManage, empty }: { title: string; group: SecurityGroup; rules: Rule[]; names: Map<string, string>; canManage: boolean; empty: string }) {
  const remove = useNetworkChange(networking.removeRule, 'Rule removed')
  return (
    <div>
      <h3 className="mb-1 text-xs font-semibold uppercase text-muted">{title}</h3>
      {rules.length === 0 ? <div className="text-xs text-subtle">{empty}</div> : (
        <table className="w-full text-sm" aria-label={`${title} rules of ${group.name}`}>
          <thead className="text-left text-xs text-muted">
            <tr><th className="py-1">#</th><th>Protocol</th><th>Ports</th><th>{title === 'Inbound' ? 'Source' : 'Destination'}</th><th>Description</th><th /></tr>
          </thead>
          <tbody>
            {rules.map((r) => (
              <tr key={r.rule_id} className="border-t border-border" data-rule={r.rule_id}>
                <td className="py-1 text-xs text-muted">{r.position + 1}</td>
                <td>{r.protocol}</td>
                <td className="font-mono text-xs">{portText(r)}</td>
                <td className="font-mono text-xs">{r.remote_group_id ? `group ${names.get(r.remote_group_id) ?? r.remote_group_id}` : r.cidr || 'anywhere'}</td>
                <td className="text-xs text-muted">{r.description}</td>
                <td className="text-right">
                  {canManage && (
                    <Button size="sm" variant="ghost" icon={<Trash2 className="size-3.5" />} aria-label={`Remove rule ${r.position + 1} of ${group.name}`}
                      onClick={() => remove.mutate({ groupId: group.id, ruleId: r.rule_id })} />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}

function AddRule({ group, groups }: { group: SecurityGroup; groups: SecurityGroup[] }) {
  const [direction, setDirection] = useState<Direction>('ingress')
  const [protocol, setProtocol] = useState<Protocol>('tcp')
  const [ports, setPorts] = useState('')
  const [peer, setPeer] = useState('')
  const [remote, setRemote] = useState('')
  const add = useNetworkChange(networking.addRule, 'Rule added')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    const [lo, hi] = ports.split(/[-–:]/).map((p) => p.trim())
    const rule: NewRule = { direction, protocol }
    if (ports && (protocol === 'tcp' || protocol === 'udp')) {
      rule.port_min = Number(lo)
      rule.port_max = Number(hi ?? lo)
    }
    if (remote) rule.remote_group_id = remote
    else if (peer) rule.cidr = peer
    add.mutate({ groupId: group.id, rule }, { onSuccess: () => { setPorts(''); setPeer('') } })
  }
  const ported = protocol === 'tcp' || protocol === 'udp'
  return (
    <form onSubmit={submit} className="flex flex-wrap items-end gap-2 border-t border-border pt-3" aria-label={`Add a rule to ${group.name}`}>
      <FormField label="Direction">
        <select className={selectClass} value={direction} aria-label="Direction" onChange={(e) => setDirection(e.target.value as Direction)}>
          <option value="ingress">Inbound</option>
          <option value="egress">Outbound</option>
        </select>
      </FormField>
      <FormField label="Protocol">
        <select className={selectClass} value={protocol} aria-label="Protocol" onChange={(e) => setProtocol(e.target.value as Protocol)}>
          {(['tcp', 'udp', 'icmp', 'all'] as Protocol[]).map((p) => <option key={p} value={p}>{p}</option>)}
        </select>
      </FormField>
      <FormField label="Ports" hint="22 or 8000-8080">
        <input className={inputClass} value={ports} disabled={!ported} onChange={(e) => setPorts(e.target.value)} aria-label="Ports" />
      </FormField>
      <FormField label="CIDR" hint="empty: anywhere">
        <input className={inputClass} value={peer} disabled={!!remote} onChange={(e) => setPeer(e.target.value)} aria-label="CIDR" placeholder="10.0.0.0/8" />
      </FormField>
      <FormField label="or group">
        <select className={selectClass} value={remote} aria-label="Remote group" onChange={(e) => setRemote(e.target.value)}>
          <option value="">—</option>
          {groups.map((g) => <option key={g.id} value={g.id}>{g.name}</option>)}
        </select>
      </FormField>
      <Button type="submit" loading={add.isPending} icon={<Plus className="size-4" />}>Add rule</Button>
      {add.isError && <div className="w-full"><ProblemBox error={add.error} /></div>}
    </form>
  )
}

function CreateGroup({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [name, setName] = useState('')
  const [description, setDescription] = useState('')
  const create = useNetworkChange(networking.createGroup, 'Security group created')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate({ name, description }, { onSuccess: () => { onClose(); setName(''); setDescription('') } })
  }
  return (
    <Dialog open={open} onClose={onClose} title="New security group" description="Add rules once it exists; apply it to VM NICs with the API or the CLI.">
      <form onSubmit={submit} className="space-y-3" aria-label="New security group">
        <FormField label="Name">
          <input className={inputClass} value={name} onChange={(e) => setName(e.target.value)} aria-label="Group name" required data-autofocus />
        </FormField>
        <FormField label="Description">
          <input className={inputClass} value={description} onChange={(e) => setDescription(e.target.value)} aria-label="Description" />
        </FormField>
        {create.isError && <ProblemBox error={create.error} />}
        <div className="flex justify-end gap-2">
          <Button variant="ghost" onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" loading={create.isPending}>Create group</Button>
        </div>
      </form>
    </Dialog>
  )
}
