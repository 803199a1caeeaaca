/**
 * Live changes: a WebSocket client for `/api/v1/changes` that keeps the last stream
 * sequence it saw and resumes from it (`?since=`) after a reconnect with exponential backoff.
 *
 * It knows nothing about React or TanStack Query; `live.ts` wires its messages to query
 * invalidation. Kept pure (injectable WebSocket, timers, random) so it is unit-testable.
 */

export interface Change {
  kind: string
  id: string
  seq: number
}

export type ChangesMessage =
  | { type: 'hello'; seq: number }
  | { type: 'changes'; seq: number; changes: Change[] }
  | { type: 'resync'; seq: number }

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface WebSocketLike {
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: unknown) => void) | null
  onerror: ((ev: unknown) => void) | null
  close(code?: number, reason?: string): void
}

export interface ChangesHandlers {
  /** Invalidate what these changes touch. */
  onChanges(changes: Change[], seq: number): void
  /** Everything may be stale: refetch all. `reason` says why. */
  onResync(reason: 'resync' | 'first-connect' | 'server-reset', seq: number): void
  onState?(state: ConnectionState, info: { attempt: number; retryInMs?: number; seq: number }): void
  onSeq?(seq: number): void
}

export interface BackoffOptions {
  initialMs: number
  maxMs: number
  factor: number
  /** 0..1: share of the delay that is randomised. */
  jitter: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 15_000, factor: 2, jitter: 0.3 }

export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF, random = Math.random): number {
  const base = Math.min(opts.maxMs, opts.initialMs * Math.pow(opts.factor, Math.max(0, attempt - 1)))
  const spread = base * opts.jitter
  return Math.round(base - spread + random() * spread)
}

export function changesUrl(loc: { protocol: string; host: string }, since: number | null): string {
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws'
  const q = since !== null ? `?since=${since}` : ''
  return `${scheme}://${loc.host}/api/v1/changes${q}`
}

export interface ChangesClientOptions {
  url: (since: number | null) => string
  createSocket: (url: string) => WebSocketLike
  handlers: ChangesHandlers
  backoff?: BackoffOptions
  setTimer?: (fn: () => void, ms: number) => unknown
  clearTimer?: (t: unknown) => void
  random?: () => number
}

export class ChangesClient {
  /** Last stream sequence seen (null until the first hello). */
  lastSeq: number | null = null
  state: ConnectionState = 'closed'
  /** Consecutive failed connection attempts since the last successful hello. */
  attempt = 0

  private socket: WebSocketLike | null = null
  private timer: unknown = null
  private stopped = true
  private helloSeen = false
  private everConnected = false
  private readonly o: Required<Omit<ChangesClientOptions, 'backoff'>> & { backoff: BackoffOptions }

  constructor(opts: ChangesClientOptions) {
    this.o = {
      backoff: DEFAULT_BACKOFF,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      random: Math.random,
      ...opts,
    }
  }

  start(): void {
    if (!this.stopped) return
    this.stopped = false
    this.connect()
  }

  stop(): void {
    this.stopped = true
    if (this.timer !== null) this.o.clearTimer(this.timer)
    this.timer = null
    const s = this.socket
    this.socket = null
    if (s) {
      s.onclose = s.onmessage = s.onerror = s.onopen = null
      s.close(1000, 'client stopped')
    }
    this.setState('closed')
  }

  /** Reconnect now (e.g. the browser came back online), skipping the backoff wait. */
  reconnectNow(): void {
    if (this.stopped || this.state === 'open' || this.state === 'connecting') return
    if (this.timer !== null) this.o.clearTimer(this.timer)
    this.timer = null
    this.connect()
  }

  private setState(state: ConnectionState, retryInMs?: number): void {
    this.state = state
    this.o.handlers.onState?.(state, { attempt: this.attempt, retryInMs, seq: this.lastSeq ?? 0 })
  }

  private connect(): void {
    this.timer = null
    this.helloSeen = false
    this.setState(this.everConnected || this.attempt > 0 ? 'reconnecting' : 'connecting')
    let socket: WebSocketLike
    try {
      socket = this.o.createSocket(this.o.url(this.lastSeq))
    } catch {
      this.scheduleReconnect()
      return
    }
    this.socket = socket
    socket.onmessage = (ev) => this.handleMessage(ev.data)
    socket.onclose = () => {
      if (this.socket !== socket) return
      this.socket = null
      this.scheduleReconnect()
    }
    socket.onerror = () => {
      /* a close event follows */
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return
    this.attempt += 1
    const delay = backoffDelay(this.attempt, this.o.backoff, this.o.random)
    this.setState('reconnecting', delay)
    this.timer = this.o.setTimer(() => this.connect(), delay)
  }

  private advance(seq: number): void {
    if (typeof seq !== 'number' || !Number.isFinite(seq)) return
    if (this.lastSeq === null || seq > this.lastSeq) {
      this.lastSeq = seq
      this.o.handlers.onSeq?.(seq)
    }
  }

  handleMessage(raw: unknown): void {
    let msg: ChangesMessage
    try {
      msg = JSON.parse(typeof raw === 'string' ? raw : String(raw)) as ChangesMessage
    } catch {
      return
    }
    switch (msg.type) {
      case 'hello': {
        const prev = this.lastSeq
        const first = !this.everConnected
        this.helloSeen = true
        this.everConnected = true
        this.attempt = 0
        this.setState('open')
        if (prev !== null && msg.seq < prev) {
          // The server's stream is behind what we saw: it was reset. Start over.
          this.lastSeq = msg.seq
          this.o.handlers.onSeq?.(msg.seq)
          this.o.handlers.onResync('server-reset', msg.seq)
          return
        }
        this.advance(msg.seq)
        if (first) this.o.handlers.onResync('first-connect', msg.seq)
        return
      }
      case 'changes': {
        if (!Array.isArray(msg.changes)) return
        this.o.handlers.onChanges(msg.changes, msg.seq)
        this.advance(msg.seq)
        return
      }
      case 'resync': {
        this.advance(msg.seq)
        this.o.handlers.onResync('resync', msg.seq)
        return
      }
      default:
        return
    }
  }

  /** True once the current socket has received its hello. */
  get live(): boolean {
    return this.helloSeen && this.state === 'open'
  }
}
