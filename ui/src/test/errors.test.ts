import { describe, expect, it, vi } from 'vitest'
import { ApiClient } from '../lib/api/client'
import { ApiError, describeError } from '../lib/api/errors'

function problem(status: number, body: unknown, ctype = 'application/problem+json') {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': ctype } })
}

describe('ApiClient problem+json parsing', () => {
  it('turns a 409 invalid-state problem into an ApiError with a human message', async () => {
    const fetch = vi.fn().mockResolvedValue(
      problem(409, {
        type: 'urn:limiquantix:problem:invalid-state',
        title: 'The request conflicts with the current state',
        status: 409,
        detail: 'vm web-01 is stopped',
      }),
    )
    const api = new ApiClient({ fetch })
    const err = await api.vmAction('abc', 'stop').catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.status).toBe(409)
    expect(err.slug).toBe('invalid-state')
    expect(err.detail).toBe('vm web-01 is stopped')
    expect(err.message).toBe('Not possible right now: Vm web-01 is stopped.')
    expect(err.retryable).toBe(false)
  })

  it('names the kind for not-found', async () => {
    const api = new ApiClient({
      fetch: vi.fn().mockResolvedValue(
        problem(404, { type: 'urn:limiquantix:problem:not-found', title: 'No such vm', status: 404, detail: 'vm x does not exist', kind: 'vm', id: 'x' }),
      ),
    })
    const err = (await api.getVm('x').catch((e) => e)) as ApiError
    expect(err.slug).toBe('not-found')
    expect(describeError(err)).toMatch(/This VM does not exist/)
  })

  it('explains invalid bodies with the server detail', async () => {
    const api = new ApiClient({
      fetch: vi.fn().mockResolvedValue(problem(422, { type: 'urn:limiquantix:problem:invalid-body', title: 'The request body is not valid', status: 422, detail: 'Expected `int` >= 1 - at `$.vcpus`' })),
    })
    const err = (await api.createVm({ name: 'a', vcpus: 0, memory_mib: 1 }).catch((e) => e)) as ApiError
    expect(err.status).toBe(422)
    expect(err.message).toContain('Some values are not valid')
    expect(err.message).toContain('$.vcpus')
  })

  it('falls back to title and status for unknown or non-JSON errors', async () => {
    const api = new ApiClient({ fetch: vi.fn().mockResolvedValue(new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway', headers: { 'content-type': 'text/html' } })) })
    const err = (await api.stats().catch((e) => e)) as ApiError
    expect(err.slug).toBe('http-502')
    expect(err.retryable).toBe(true)
    expect(err.message).toMatch(/server had a problem \(502\)/)
  })

  it('reports a network failure as status 0', async () => {
    const api = new ApiClient({ fetch: vi.fn().mockRejectedValue(new TypeError('Failed to fetch')) })
    const err = (await api.stats().catch((e) => e)) as ApiError
    expect(err.status).toBe(0)
    expect(err.slug).toBe('network')
    expect(err.message).toMatch(/Cannot reach the LimiQuantix server/)
  })
})

describe('ApiClient read-your-writes', () => {
  it('adds min_seq to reads until the change stream reports that seq', async () => {
    const urls: string[] = []
    const fetch = vi.fn(async (url: string, _init?: RequestInit) => {
      urls.push(url)
      void _init
      if (url.endsWith('/actions/start')) return new Response(JSON.stringify({ vm_id: 'v1', task_id: 't1', seq: 42 }), { status: 202 })
      return new Response(JSON.stringify({ items: [], next_cursor: null, total: 0 }), { status: 200 })
    })
    const api = new ApiClient({ fetch: fetch as unknown as typeof globalThis.fetch })
    await api.listVms({ limit: 10 })
    expect(urls[0]).toBe('/api/v1/vms?limit=10')
    await api.vmAction('v1', 'start')
    expect(fetch.mock.calls[1][1]).toMatchObject({ method: 'POST' })
    await api.listVms({ limit: 10 })
    expect(urls[2]).toBe('/api/v1/vms?limit=10&min_seq=42')
    api.noteSeen(42)
    await api.listVms({ limit: 10 })
    expect(urls[3]).toBe('/api/v1/vms?limit=10')
  })

  it('sends an Idempotency-Key with commands', async () => {
    const fetch = vi.fn().mockResolvedValue(new Response(JSON.stringify({ vm_id: 'v', task_id: 't', seq: 1 }), { status: 202 }))
    const api = new ApiClient({ fetch })
    await api.deleteVm('v')
    const init = fetch.mock.calls[0][1] as RequestInit
    expect(init.method).toBe('DELETE')
    expect((init.headers as Record<string, string>)['Idempotency-Key']).toBeTruthy()
  })
})
