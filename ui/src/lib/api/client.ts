/**
 * The LimiQuantix API client: a thin typed fetch wrapper.
 *
 * Read-your-writes: every command answers `202 {seq}`. The client remembers the highest such
 * seq (`noteWrite`) and, until the live-changes stream reports that the read model reached it
 * (`noteSeen`), adds `min_seq=<seq>` to every GET so the server waits for the projection.
 */
import { ApiError, errorFromResponse, networkError } from './errors'
import { accessToken, refreshSession, sessionExpired } from '../auth'
import type {
  CommandAccepted,
  CreateVmBody,
  Host,
  LqEvent,
  Page,
  SearchHit,
  Stats,
  Task,
  Vm,
} from './types'

export type Params = Record<string, string | number | boolean | null | undefined>

export const API_BASE = '/api/v1'

export function buildQuery(params?: Params): string {
  if (!params) return ''
  const sp = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue
    sp.set(k, String(v))
  }
  const s = sp.toString()
  return s ? `?${s}` : ''
}

export interface ApiClientOptions {
  base?: string
  fetch?: typeof fetch
}

export class ApiClient {
  private readonly base: string
  private readonly fetchImpl: typeof fetch
  /** Highest stream sequence returned by one of our commands. */
  private writeSeq = 0
  /** Highest stream sequence the read model is known to have applied. */
  private seenSeq = 0

  constructor(opts: ApiClientOptions = {}) {
    this.base = opts.base ?? API_BASE
    this.fetchImpl = opts.fetch ?? ((...a) => globalThis.fetch(...a))
  }

  noteWrite(seq: number | undefined): void {
    if (typeof seq === 'number' && seq > this.writeSeq) this.writeSeq = seq
  }

  noteSeen(seq: number | undefined): void {
    if (typeof seq === 'number' && seq > this.seenSeq) this.seenSeq = seq
  }

  /** The server's stream restarted below what we saw: forget our marks. */
  resetSeq(seq: number): void {
    this.writeSeq = 0
    this.seenSeq = seq
  }

  /** The `min_seq` a read should carry now, or undefined when the read model is caught up. */
  pendingMinSeq(): number | undefined {
    return this.writeSeq > this.seenSeq ? this.writeSeq : undefined
  }

  async request<T>(method: string, path: string, opts: { params?: Params; body?: unknown; signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<T> {
    const params: Params = { ...opts.params }
    if (method === 'GET' && params.min_seq === undefined) params.min_seq = this.pendingMinSeq()
    const url = `${this.base}${path}${buildQuery(params)}`
    const headers: Record<string, string> = { Accept: 'application/json, application/problem+json', ...opts.headers }
    let body: string | undefined
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(opts.body)
    }
    const send = async (token: string | null): Promise<Response> => {
      if (token) headers.Authorization = `Bearer ${token}`
      try {
        return await this.fetchImpl(url, { method, headers, body, signal: opts.signal })
      } catch (e) {
        if (e instanceof DOMException && e.name === 'AbortError') throw e
        throw networkError(e)
      }
    }
    const token = await accessToken()
    let res = await send(token)
    if (res.status === 401 && token) {
      // expired or revoked: refresh once and retry; if that fails the session is over
      const fresh = await refreshSession()
      if (fresh) res = await send(fresh.accessToken)
      else sessionExpired()
    }
    if (!res.ok) throw await errorFromResponse(res)
    if (res.status === 204) return undefined as T
    const text = await res.text()
    const data = (text ? JSON.parse(text) : undefined) as T
    if (method !== 'GET' && data && typeof data === 'object' && 'seq' in data) {
      this.noteWrite((data as { seq?: number }).seq)
    }
    return data
  }

  get<T>(path: string, params?: Params, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path, { params, signal })
  }

  // ---- resources -------------------------------------------------------------------------
  listVms(params: Params, signal?: AbortSignal) {
    return this.get<Page<Vm>>('/vms', params, signal)
  }
  getVm(id: string, signal?: AbortSignal) {
    return this.get<Vm>(`/vms/${encodeURIComponent(id)}`, undefined, signal)
  }
  vmEvents(id: string, params: Params, signal?: AbortSignal) {
    return this.get<Page<LqEvent>>(`/vms/${encodeURIComponent(id)}/events`, params, signal)
  }
  listHosts(params: Params, signal?: AbortSignal) {
    return this.get<Page<Host>>('/hosts', params, signal)
  }
  getHost(id: string, signal?: AbortSignal) {
    return this.get<Host>(`/hosts/${encodeURIComponent(id)}`, undefined, signal)
  }
  hostEvents(id: string, params: Params, signal?: AbortSignal) {
    return this.get<Page<LqEvent>>(`/hosts/${encodeURIComponent(id)}/events`, params, signal)
  }
  listTasks(params: Params, signal?: AbortSignal) {
    return this.get<Page<Task>>('/tasks', params, signal)
  }
  getTask(id: string, signal?: AbortSignal) {
    return this.get<Task>(`/tasks/${encodeURIComponent(id)}`, undefined, signal)
  }
  taskEvents(id: string, params: Params, signal?: AbortSignal) {
    return this.get<Page<LqEvent>>(`/tasks/${encodeURIComponent(id)}/events`, params, signal)
  }
  stats(signal?: AbortSignal) {
    return this.get<Stats>('/stats', undefined, signal)
  }
  async search(q: string, limit: number, signal?: AbortSignal): Promise<SearchHit[]> {
    const res = await this.get<Page<SearchHit> | SearchHit[]>('/search', { q, limit }, signal)
    return Array.isArray(res) ? res : res.items
  }

  createVm(body: CreateVmBody) {
    return this.request<CommandAccepted>('POST', '/vms', { body, headers: { 'Idempotency-Key': newKey() } })
  }
  vmAction(id: string, action: 'start' | 'stop') {
    return this.request<CommandAccepted>('POST', `/vms/${encodeURIComponent(id)}/actions/${action}`, {
      headers: { 'Idempotency-Key': newKey() },
    })
  }
  deleteVm(id: string, opts: { keep_disks?: boolean; delete_snapshots?: boolean } = {}) {
    return this.request<CommandAccepted>('DELETE', `/vms/${encodeURIComponent(id)}`, {
      params: { keep_disks: opts.keep_disks || undefined, delete_snapshots: opts.delete_snapshots || undefined },
      headers: { 'Idempotency-Key': newKey() },
    })
  }

  /** Any command (POST/PATCH/DELETE answering `202 {vm_id, task_id, seq}`), with an Idempotency-Key. */
  command(method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, params?: Params) {
    return this.request<CommandAccepted>(method, path, { body, params, headers: { 'Idempotency-Key': newKey() } })
  }
}

function newKey(): string {
  const c = globalThis.crypto
  if (c && 'randomUUID' in c) return c.randomUUID()
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
}

export { ApiError }

/** The app's one client. */
export const api = new ApiClient()
