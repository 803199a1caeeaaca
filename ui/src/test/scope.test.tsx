import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { render, screen } from '@testing-library/react'
import { QueryClientProvider } from '@tanstack/react-query'
import { useSession } from '../lib/auth'
import { createQueryClient } from '../lib/queryClient'
import { allows, type Me } from '../lib/api/security'
import { hostCluster, poolCluster, useCanOnVm } from '../lib/api/scope'
import { HostMaintenanceButton } from '../components/cluster/HostActions'
import type { Host } from '../lib/api/types'

const me = (permissions: string[], cluster_permissions: Record<string, string[]> = {}): Me => ({
  id: 'u1',
  username: 'op',
  via: 'session',
  permissions,
  cluster_permissions,
  bindings: [],
})

describe('allows', () => {
  const op = me(['vm.read'], { c1: ['vm.power', 'host.maintenance'] })

  it('counts a global grant everywhere', () => {
    expect(allows(me(['vm.power']), 'vm.power')).toBe(true)
    expect(allows(me(['vm.power']), 'vm.power', { clusterId: 'c2' })).toBe(true)
  })

  it('counts a cluster grant on that cluster only', () => {
    expect(allows(op, 'vm.power', { clusterId: 'c1' })).toBe(true)
    expect(allows(op, 'vm.power', { clusterId: 'c2' })).toBe(false)
    expect(allows(op, 'vm.power', { clusterId: null })).toBe(false)
    expect(allows(op, 'vm.power')).toBe(false)
    expect(allows(op, 'vm.delete', { clusterId: 'c1' })).toBe(false)
  })

  it('answers "anywhere" when some cluster grants it', () => {
    expect(allows(op, 'vm.power', 'anywhere')).toBe(true)
    expect(allows(op, 'vm.delete', 'anywhere')).toBe(false)
  })

  it('allows while the permissions are unknown (the API enforces)', () => {
    expect(allows(undefined, 'vm.power', { clusterId: 'c2' })).toBe(true)
  })

  it('finds a host or pool cluster from loaded data', () => {
    expect(hostCluster([{ id: 'h1', cluster_id: 'c1' }], 'h1')).toBe('c1')
    expect(hostCluster([{ id: 'h1', cluster_id: 'c1' }], 'h9')).toBeNull()
    expect(poolCluster([{ id: 'c1', pools: [{ pool_id: 'p1' } as never] }], 'p1')).toBe('c1')
    expect(poolCluster([{ id: 'c1', pools: [] }], 'p1')).toBeNull()
  })
})

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

const hosts: Record<string, { cluster_id: string | null }> = { h1: { cluster_id: 'c1' }, h2: { cluster_id: 'c2' } }

function Probe({ hostId }: { hostId: string }) {
  return <span>{`${hostId}:${useCanOnVm('vm.power', { host_id: hostId }) ? 'yes' : 'no'}`}</span>
}

const host = (id: string, cluster_id: string): Host =>
  ({ id, name: id, state: 'connected', cluster_id, vm_count: 0 }) as unknown as Host

describe('useCan with cluster-scoped bindings', () => {
  beforeEach(() => {
    useSession.getState().set({ accessToken: 'a', refreshToken: 'r', expiresAt: Date.now() + 900_000, userId: 'u1', username: 'op' })
    vi.stubGlobal(
      'fetch',
      vi.fn(async (input: string | URL | Request) => {
        const path = new URL(String(input), 'http://x').pathname
        if (path === '/api/v1/auth/me') return json(me(['vm.read'], { c1: ['vm.power', 'host.maintenance'] }))
        const h = path.match(/^\/api\/v1\/hosts\/(\w+)$/)
        if (h && hosts[h[1]]) return json({ id: h[1], ...hosts[h[1]] })
        return json({ type: 'urn:limiquantix:problem:not-found', status: 404 }, 404)
      }),
    )
  })
  afterEach(() => {
    vi.unstubAllGlobals()
    useSession.getState().set(null)
  })

  it("offers VM and host actions in the bound cluster only, resolving a VM's cluster from its host", async () => {
    render(
      <QueryClientProvider client={createQueryClient()}>
        <Probe hostId="h1" />
        <Probe hostId="h2" />
        <div data-testid="in">
          <HostMaintenanceButton host={host('h1', 'c1')} />
        </div>
        <div data-testid="out">
          <HostMaintenanceButton host={host('h2', 'c2')} />
        </div>
      </QueryClientProvider>,
    )
    // Everything is offered while the permissions load, so wait for them to matter.
    expect(await screen.findByText('h2:no')).toBeTruthy()
    expect(await screen.findByText('h1:yes')).toBeTruthy()
    expect(screen.getByTestId('in').textContent).toContain('Enter maintenance')
    expect(screen.getByTestId('out').textContent).toBe('')
  })
})
