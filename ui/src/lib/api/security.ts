/**
 * Users, roles, API tokens, host join tokens and "who am I" (docs/api.md "Authentication", docs/security.md).
 *
 * `useCan(permission, where)` decides which actions the UI offers, counting cluster-scoped
 * role bindings on the cluster's own resources. It only hides what the API would refuse
 * anyway: the server enforces every permission. While the caller's permissions are
 * unknown (not signed in, e.g. in component tests) nothing is hidden; the signed-in app
 * loads them before it renders any page (RequireAuth), so a viewer never sees a flash of
 * buttons it cannot use.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api } from './client'
import { toast } from '../../stores/ui'
import { describeError } from './errors'
import { useSession } from '../auth'

export interface Me {
  id: string
  username: string
  via: 'session' | 'token'
  permissions: string[]
  cluster_permissions: Record<string, string[]>
  bindings: Binding[]
}

export interface Binding {
  role: string
  scope: string
}

export interface User {
  id: string
  username: string
  display_name: string
  state: 'active' | 'disabled' | 'deleted'
  bindings: Binding[]
  password_changed_at: string | null
  last_login_at: string | null
  created_at: string
  updated_at: string
  seq: number
}

export interface Role {
  name: string
  description: string
  permissions: string[]
  builtin: boolean
}

export interface ApiToken {
  id: string
  user_id: string
  username: string | null
  name: string
  scopes: string[]
  expires_at: string
  revoked_at: string | null
  created_at: string
}

export interface NewToken {
  token_id: string
  token: string
  name: string
  scopes: string[]
  expires_at: string
  seq: number
}

export interface JoinToken {
  id: string
  label: string
  labels: Record<string, string>
  cluster_id: string | null
  state: 'active' | 'used' | 'revoked' | 'expired'
  expires_at: string
  used_by: string | null
  used_by_name: string | null
  used_at: string | null
  revoked_at: string | null
  created_by: string
  created_at: string
}

export interface NewJoinToken {
  token_id: string
  token: string
  label: string
  labels: Record<string, string>
  cluster_id: string | null
  expires_at: string
  seq: number
}

export interface Catalogue {
  permissions: { name: string; description: string }[]
  builtin_roles: Role[]
}

interface ListOf<T> {
  items: T[]
  next_cursor: string | null
  total: number
}

export const securityKeys = {
  me: ['me'] as const,
  users: ['users'] as const,
  roles: ['roles'] as const,
  tokens: ['tokens'] as const,
  joinTokens: ['join-tokens'] as const,
  catalogue: ['permissions'] as const,
}

export function useMe() {
  const signedIn = useSession((s) => s.session !== null)
  return useQuery({
    queryKey: securityKeys.me,
    queryFn: ({ signal }) => api.get<Me>('/auth/me', undefined, signal),
    enabled: signedIn,
    staleTime: 60_000,
  })
}

/**
 * Where an action applies: on one cluster's resources (`clusterId`: the cluster itself, its
 * hosts, the VMs on them; `null` = outside every cluster or not known yet), or `anywhere`
 * (a control that leads to such actions, e.g. a bulk bar whose rows are checked one by one).
 * Without one, only a global grant counts.
 */
export type Where = { clusterId: string | null | undefined } | 'anywhere'

/**
 * Whether `me` may do `permission` there: a global binding grants it everywhere; a binding
 * scoped to `cluster:<id>` (`cluster_permissions`) only on that cluster's resources, as the
 * API enforces it (docs/security.md). Unknown permissions (`me` undefined) allow.
 */
export function allows(me: Me | undefined, permission: string, where?: Where): boolean {
  if (!me) return true
  if (me.permissions.includes(permission)) return true
  const scoped = me.cluster_permissions ?? {}
  if (where === 'anywhere') return Object.values(scoped).some((perms) => perms.includes(permission))
  const cluster = where?.clusterId
  return !!cluster && (scoped[cluster]?.includes(permission) ?? false)
}

/** Whether to offer an action needing `permission` (true while unknown; the API enforces). */
export function useCan(permission: string, where?: Where): boolean {
  return allows(useMe().data, permission, where)
}

export function useUsers(enabled = true) {
  return useQuery({
    queryKey: securityKeys.users,
    queryFn: ({ signal }) => api.get<ListOf<User>>('/users', { limit: 500, state: 'active,disabled' }, signal),
    enabled,
  })
}

export function useRoles(enabled = true) {
  return useQuery({
    queryKey: securityKeys.roles,
    queryFn: ({ signal }) => api.get<ListOf<Role>>('/roles', undefined, signal),
    enabled,
  })
}

export function useTokens() {
  return useQuery({
    queryKey: securityKeys.tokens,
    queryFn: ({ signal }) => api.get<ListOf<ApiToken>>('/tokens', { limit: 500 }, signal),
  })
}

export function useJoinTokens(enabled = true) {
  return useQuery({
    queryKey: securityKeys.joinTokens,
    queryFn: ({ signal }) => api.get<ListOf<JoinToken>>('/join-tokens', { limit: 200 }, signal),
    enabled,
  })
}

export function useCatalogue() {
  return useQuery({
    queryKey: securityKeys.catalogue,
    queryFn: ({ signal }) => api.get<Catalogue>('/permissions', undefined, signal),
    staleTime: Infinity,
  })
}

/** A security change: on success invalidate the lists, on failure show why. */
export function useSecurityChange<V, R = unknown>(fn: (v: V) => Promise<R>, done?: string) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: fn,
    onSuccess: () => {
      if (done) toast.success(done)
      for (const key of Object.values(securityKeys)) void qc.invalidateQueries({ queryKey: key })
    },
    onError: (e) => toast.error('That did not work', describeError(e)),
  })
}

export const security = {
  createUser: (b: { username: string; password: string; roles: Binding[] }) => api.request('POST', '/users', { body: b }),
  deleteUser: (id: string) => api.request('DELETE', `/users/${encodeURIComponent(id)}`),
  userAction: (id: string, verb: 'disable' | 'enable' | 'set-password', body?: unknown) =>
    api.request('POST', `/users/${encodeURIComponent(id)}/actions/${verb}`, { body }),
  bind: (id: string, b: Binding) => api.request('POST', `/users/${encodeURIComponent(id)}/role-bindings`, { body: b }),
  unbind: (id: string, b: Binding) =>
    api.request('POST', `/users/${encodeURIComponent(id)}/role-bindings/actions/remove`, { body: b }),
  createRole: (b: { name: string; description: string; permissions: string[] }) => api.request('POST', '/roles', { body: b }),
  deleteRole: (name: string) => api.request('DELETE', `/roles/${encodeURIComponent(name)}`),
  createToken: (b: { name: string; scopes: string[]; expires_in_days: number }) => api.request<NewToken>('POST', '/tokens', { body: b }),
  revokeToken: (id: string) => api.request('DELETE', `/tokens/${encodeURIComponent(id)}`),
  createJoinToken: (b: { label: string; expires_in_s: number }) =>
    api.request<NewJoinToken>('POST', '/join-tokens', { body: b }),
  revokeJoinToken: (id: string) => api.request('DELETE', `/join-tokens/${encodeURIComponent(id)}`),
}
