import { useState, type FormEvent, type ReactNode } from 'react'
import { useSearchParams } from 'react-router'
import { KeyRound, Plus, Settings as SettingsIcon, ShieldCheck, Trash2, UserX, X } from 'lucide-react'
import { Button } from '../components/ui/Button'
import { Card, PageHeader } from '../components/ui/Card'
import { EmptyState, ErrorState, Spinner } from '../components/ui/Feedback'
import { Tabs } from '../components/ui/Tabs'
import { WebhooksLink } from '../components/webhooks/WebhooksLink'
import { Appearance } from '../components/settings/Appearance'
import { FleetSettingsForm } from '../components/settings/FleetSettingsForm'
import { NotificationChannels } from '../components/settings/NotificationChannels'
import { JoinTokens } from '../components/settings/JoinTokens'
import { ProcessSettings } from '../components/settings/ProcessSettings'
import { SettingsHistory } from '../components/settings/SettingsHistory'
import { changePassword } from '../lib/auth'
import { describeError } from '../lib/api/errors'
import {
  security,
  useCan,
  useCatalogue,
  useMe,
  useRoles,
  useSecurityChange,
  useTokens,
  useUsers,
  type Binding,
  type NewToken,
} from '../lib/api/security'
import { toast } from '../stores/ui'

const TABS = [
  { key: 'general', label: 'General' },
  { key: 'appearance', label: 'Appearance' },
  { key: 'notifications', label: 'Notifications' },
  { key: 'security', label: 'Security' },
  { key: 'storage', label: 'Storage' },
  { key: 'network', label: 'Network' },
  { key: 'advanced', label: 'Advanced' },
  { key: 'account', label: 'Account' },
] as const
type Tab = (typeof TABS)[number]['key']

function isTab(v: string | null): v is Tab {
  return TABS.some((t) => t.key === v)
}

const input = 'h-8 rounded-md border border-border bg-bg px-2 text-sm text-fg outline-none focus:border-accent'

/**
 * Settings. General, Notifications, Security (its first card), Storage and Network edit the
 * fleet settings — event-sourced, shared by every controlplane, each change in the audit
 * log; Appearance is this browser's; Advanced shows the process's static settings; Security
 * also holds users, roles and API tokens, and Account the signed-in user's password.
 */
export default function Settings() {
  const [params, setParams] = useSearchParams()
  const raw = params.get('tab')
  const tab: Tab = isTab(raw) ? raw : 'general'
  const canRead = useCan('settings.read')
  return (
    <div className="space-y-4">
      <PageHeader title="Settings" icon={<SettingsIcon className="size-5" />} subtitle="Fleet policy, who may do what, and your own account" actions={<WebhooksLink />} />
      <Tabs<Tab> tabs={[...TABS]} value={tab} onChange={(k) => setParams(k === 'general' ? {} : { tab: k }, { replace: true })} />
      {tab === 'general' && canRead && (
        <>
          <FleetSettingsForm group="general" title="Placement and VM defaults" />
          <SettingsHistory />
        </>
      )}
      {tab === 'appearance' && <Appearance />}
      {tab === 'notifications' && canRead && (
        <>
          <NotificationChannels />
          <FleetSettingsForm group="notifications" title="Alert notifications" />
        </>
      )}
      {tab === 'security' && <Security />}
      {tab === 'storage' && canRead && <FleetSettingsForm group="storage" title="Storage defaults" />}
      {tab === 'network' && canRead && <FleetSettingsForm group="network" title="Network defaults" />}
      {tab === 'advanced' && canRead && <ProcessSettings />}
      {tab === 'account' && <Account />}
      {!canRead && tab !== 'appearance' && tab !== 'security' && tab !== 'account' && (
        <EmptyState title="Not allowed">Seeing settings needs the permission settings.read.</EmptyState>
      )}
    </div>
  )
}

function Security() {
  const canReadUsers = useCan('user.read')
  const canReadSettings = useCan('settings.read')
  const canEnroll = useCan('host.enroll')
  return (
    <div className="space-y-4">
      {canReadSettings && <FleetSettingsForm group="security" title="Sign-in and sessions" />}
      {canReadUsers && <Users />}
      {canReadUsers && <Roles />}
      <Tokens />
      {canEnroll && <JoinTokens />}
    </div>
  )
}

function Chip({ children, onRemove, label }: { children: ReactNode; onRemove?: () => void; label?: string }) {
  return (
    <span className="inline-flex items-center gap-1 rounded-full border border-border bg-surface-2 px-2 py-0.5 text-xs text-fg">
      {children}
      {onRemove && (
        <button onClick={onRemove} aria-label={label} className="text-muted hover:text-bad">
          <X className="size-3" />
        </button>
      )}
    </span>
  )
}

function scopeLabel(b: Binding): string {
  return b.scope === 'global' ? b.role : `${b.role} @ ${b.scope}`
}

function Users() {
  const users = useUsers()
  const roles = useRoles()
  const me = useMe().data
  const canManage = useCan('user.manage')
  const canBind = useCan('role.manage')
  const [name, setName] = useState('')
  const [password, setPassword] = useState('')
  const [role, setRole] = useState('viewer')
  const create = useSecurityChange(security.createUser, 'User created')
  const remove = useSecurityChange(security.deleteUser, 'User deleted')
  const action = useSecurityChange((v: { id: string; verb: 'disable' | 'enable' | 'set-password'; body?: unknown }) => security.userAction(v.id, v.verb, v.body), 'Done')
  const bind = useSecurityChange((v: { id: string; b: Binding }) => security.bind(v.id, v.b), 'Role granted')
  const unbind = useSecurityChange((v: { id: string; b: Binding }) => security.unbind(v.id, v.b), 'Role removed')
  const roleNames = roles.data?.items.map((r) => r.name) ?? ['admin', 'operator', 'viewer']

  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate({ username: name, password, roles: [{ role, scope: 'global' }] }, { onSuccess: () => { setName(''); setPassword('') } })
  }

  return (
    <Card title="Users" bodyClassName="p-0">
      {canManage && (
        <form onSubmit={submit} className="flex flex-wrap items-end gap-2 border-b border-border p-3" aria-label="New user">
          <input className={input} placeholder="user name" aria-label="New user name" value={name} onChange={(e) => setName(e.target.value)} required />
          <input className={input} placeholder="password (8+ characters)" aria-label="New user password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
          <select className={input} aria-label="New user role" value={role} onChange={(e) => setRole(e.target.value)}>
            {roleNames.map((r) => <option key={r}>{r}</option>)}
          </select>
          <Button type="submit" size="sm" variant="primary" icon={<Plus className="size-3.5" />} loading={create.isPending}>Add user</Button>
        </form>
      )}
      {users.isPending ? <Spinner /> : users.isError ? <ErrorState error={users.error} /> : (
        <table className="w-full text-sm" aria-label="Users">
          <thead className="text-left text-xs text-muted">
            <tr><th className="px-3 py-2">User</th><th className="px-3 py-2">Roles</th><th className="px-3 py-2">State</th><th className="px-3 py-2">Last sign-in</th><th /></tr>
          </thead>
          <tbody>
            {users.data.items.map((u) => (
              <tr key={u.id} className="border-t border-border" data-username={u.username}>
                <td className="px-3 py-2 font-medium text-fg">{u.username}</td>
                <td className="px-3 py-2">
                  <div className="flex flex-wrap items-center gap-1">
                    {u.bindings.map((b) => (
                      <Chip key={scopeLabel(b)} onRemove={canBind ? () => unbind.mutate({ id: u.id, b }) : undefined} label={`Remove ${scopeLabel(b)} from ${u.username}`}>{scopeLabel(b)}</Chip>
                    ))}
                    {canBind && (
                      <select className="h-6 rounded border border-border bg-bg text-xs text-muted" aria-label={`Grant a role to ${u.username}`} value="" onChange={(e) => e.target.value && bind.mutate({ id: u.id, b: { role: e.target.value, scope: 'global' } })}>
                        <option value="">+ role</option>
                        {roleNames.filter((r) => !u.bindings.some((b) => b.role === r && b.scope === 'global')).map((r) => <option key={r}>{r}</option>)}
                      </select>
                    )}
                  </div>
                </td>
                <td className="px-3 py-2 text-muted">{u.state}</td>
                <td className="px-3 py-2 text-muted">{u.last_login_at ? new Date(u.last_login_at).toLocaleString() : 'never'}</td>
                <td className="px-3 py-2 text-right">
                  {canManage && u.id !== me?.id && (
                    <div className="flex justify-end gap-1">
                      <Button size="sm" variant="ghost" icon={<KeyRound className="size-3.5" />} onClick={() => {
                        const pw = window.prompt(`New password for ${u.username} (8+ characters)`)
                        if (pw) action.mutate({ id: u.id, verb: 'set-password', body: { password: pw } })
                      }}>Password</Button>
                      <Button size="sm" variant="ghost" icon={<UserX className="size-3.5" />} onClick={() => action.mutate({ id: u.id, verb: u.state === 'disabled' ? 'enable' : 'disable' })}>
                        {u.state === 'disabled' ? 'Enable' : 'Disable'}
                      </Button>
                      <Button size="sm" variant="danger" icon={<Trash2 className="size-3.5" />} onClick={() => window.confirm(`Delete user ${u.username}?`) && remove.mutate(u.id)}>Delete</Button>
                    </div>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  )
}

function PermissionPicker({ value, onChange, allowed }: { value: string[]; onChange: (v: string[]) => void; allowed?: string[] }) {
  const catalogue = useCatalogue()
  const perms = (catalogue.data?.permissions ?? []).filter((p) => !allowed || allowed.includes(p.name))
  return (
    <fieldset className="flex flex-wrap gap-x-4 gap-y-1">
      {perms.map((p) => (
        <label key={p.name} className="flex items-center gap-1 text-xs text-fg" title={p.description}>
          <input type="checkbox" checked={value.includes(p.name)} onChange={(e) => onChange(e.target.checked ? [...value, p.name] : value.filter((x) => x !== p.name))} />
          {p.name}
        </label>
      ))}
    </fieldset>
  )
}

function Roles() {
  const roles = useRoles()
  const canManage = useCan('role.manage')
  const [name, setName] = useState('')
  const [description, setDescription] = useState('')
  const [perms, setPerms] = useState<string[]>([])
  const create = useSecurityChange(security.createRole, 'Role created')
  const remove = useSecurityChange(security.deleteRole, 'Role deleted')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate({ name, description, permissions: perms }, { onSuccess: () => { setName(''); setDescription(''); setPerms([]) } })
  }
  return (
    <Card title="Roles" bodyClassName="p-0">
      {canManage && (
        <form onSubmit={submit} className="space-y-2 border-b border-border p-3" aria-label="New role">
          <div className="flex flex-wrap gap-2">
            <input className={input} placeholder="role name" aria-label="New role name" value={name} onChange={(e) => setName(e.target.value)} required />
            <input className={`${input} min-w-64 flex-1`} placeholder="description" aria-label="New role description" value={description} onChange={(e) => setDescription(e.target.value)} />
            <Button type="submit" size="sm" variant="primary" icon={<Plus className="size-3.5" />} loading={create.isPending}>Add role</Button>
          </div>
          <PermissionPicker value={perms} onChange={setPerms} />
        </form>
      )}
      {roles.isPending ? <Spinner /> : roles.isError ? <ErrorState error={roles.error} /> : (
        <ul className="divide-y divide-border" aria-label="Roles">
          {roles.data.items.map((r) => (
            <li key={r.name} className="flex items-start gap-3 px-3 py-2" data-role={r.name}>
              <ShieldCheck className="mt-0.5 size-4 shrink-0 text-muted" />
              <div className="min-w-0 flex-1">
                <div className="text-sm font-medium text-fg">{r.name} {r.builtin && <span className="text-xs font-normal text-muted">(built-in)</span>}</div>
                <div className="text-xs text-muted">{r.description}</div>
                <div className="mt-1 flex flex-wrap gap-1">{r.permissions.map((p) => <Chip key={p}>{p}</Chip>)}</div>
              </div>
              {canManage && !r.builtin && (
                <Button size="sm" variant="danger" icon={<Trash2 className="size-3.5" />} onClick={() => window.confirm(`Delete role ${r.name}?`) && remove.mutate(r.name)}>Delete</Button>
              )}
            </li>
          ))}
        </ul>
      )}
    </Card>
  )
}

function Tokens() {
  const tokens = useTokens()
  const me = useMe().data
  const [name, setName] = useState('')
  const [scopes, setScopes] = useState<string[]>([])
  const [days, setDays] = useState(30)
  const [shown, setShown] = useState<NewToken | null>(null)
  const create = useSecurityChange(security.createToken)
  const revoke = useSecurityChange(security.revokeToken, 'Token revoked')
  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate({ name, scopes, expires_in_days: days }, { onSuccess: (t) => { setShown(t); setName(''); setScopes([]) } })
  }
  return (
    <Card title="API tokens" bodyClassName="p-0">
      {me?.via === 'session' && (
        <form onSubmit={submit} className="space-y-2 border-b border-border p-3" aria-label="New API token">
          <div className="flex flex-wrap items-center gap-2">
            <input className={input} placeholder="token name" aria-label="Token name" value={name} onChange={(e) => setName(e.target.value)} required />
            <label className="flex items-center gap-1 text-xs text-muted">
              expires in
              <input className={`${input} w-20`} type="number" min={1} max={3650} aria-label="Expires in days" value={days} onChange={(e) => setDays(Number(e.target.value))} />
              days
            </label>
            <Button type="submit" size="sm" variant="primary" icon={<Plus className="size-3.5" />} loading={create.isPending} disabled={!scopes.length}>Create token</Button>
          </div>
          <PermissionPicker value={scopes} onChange={setScopes} allowed={me.permissions} />
        </form>
      )}
      {shown && (
        <div className="m-3 space-y-1 rounded-md border border-ok/40 bg-ok/10 p-3 text-sm" role="status" data-testid="new-token">
          <div className="font-medium text-fg">Token “{shown.name}” created. Copy it now: it is shown only once.</div>
          <code className="block break-all rounded bg-bg px-2 py-1 text-xs text-fg" data-testid="new-token-value">{shown.token}</code>
          <div className="flex gap-2">
            <Button size="sm" onClick={() => void navigator.clipboard?.writeText(shown.token).then(() => toast.success('Copied'), (e: unknown) => toast.error('Copy failed', describeError(e)))}>Copy</Button>
            <Button size="sm" variant="ghost" onClick={() => setShown(null)}>Done</Button>
          </div>
        </div>
      )}
      {tokens.isPending ? <Spinner /> : tokens.isError ? <ErrorState error={tokens.error} /> : tokens.data.items.length === 0 ? (
        <EmptyState title="No API tokens">Tokens let scripts use the API with a subset of your permissions.</EmptyState>
      ) : (
        <table className="w-full text-sm" aria-label="API tokens">
          <thead className="text-left text-xs text-muted">
            <tr><th className="px-3 py-2">Name</th><th className="px-3 py-2">Scopes</th><th className="px-3 py-2">Expires</th><th /></tr>
          </thead>
          <tbody>
            {tokens.data.items.map((t) => (
              <tr key={t.id} className="border-t border-border" data-token-name={t.name}>
                <td className="px-3 py-2 font-medium text-fg">{t.name}</td>
                <td className="px-3 py-2"><div className="flex flex-wrap gap-1">{t.scopes.map((s) => <Chip key={s}>{s}</Chip>)}</div></td>
                <td className="px-3 py-2 text-muted">{new Date(t.expires_at).toLocaleDateString()}</td>
                <td className="px-3 py-2 text-right">
                  <Button size="sm" variant="danger" icon={<Trash2 className="size-3.5" />} onClick={() => revoke.mutate(t.id)}>Revoke</Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  )
}

function Account() {
  const me = useMe().data
  const [current, setCurrent] = useState('')
  const [next, setNext] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await changePassword(current, next)
      setCurrent('')
      setNext('')
      toast.success('Password changed', 'Your other sessions were signed out.')
    } catch (err) {
      setError(describeError(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <Card title={`Account: ${me?.username ?? ''}`}>
      <div className="mb-3 flex flex-wrap gap-1 text-xs text-muted">
        Roles: {me?.bindings.map((b) => <Chip key={scopeLabel(b)}>{scopeLabel(b)}</Chip>)}
      </div>
      <form onSubmit={submit} className="flex max-w-sm flex-col gap-2" aria-label="Change password">
        <input className={input} type="password" autoComplete="current-password" placeholder="current password" aria-label="Current password" value={current} onChange={(e) => setCurrent(e.target.value)} required />
        <input className={input} type="password" autoComplete="new-password" placeholder="new password (8+ characters)" aria-label="New password" value={next} onChange={(e) => setNext(e.target.value)} required minLength={8} />
        {error && <p role="alert" className="text-sm text-bad">{error}</p>}
        <Button type="submit" variant="primary" loading={busy}>Change password</Button>
      </form>
    </Card>
  )
}
