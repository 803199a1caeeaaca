import { describe, expect, it } from 'vitest'
import { ChangesClient, backoffDelay, changesUrl, type Change, type WebSocketLike } from '../lib/changes'
import { keysForChanges } from '../lib/queryKeys'

class FakeSocket implements WebSocketLike {
  onopen: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  onclose: ((ev: unknown) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  closed = false
  constructor(public url: string) {}
  close() {
    this.closed = true
  }
  send(msg: object) {
    this.onmessage?.({ data: JSON.stringify(msg) })
  }
  drop() {
    this.onclose?.({})
  }
}

function harness() {
  const sockets: FakeSocket[] = []
  const timers: { fn: () => void; ms: number }[] = []
  const log = { changes: [] as Change[][], resyncs: [] as string[], states: [] as string[] }
  const client = new ChangesClient({
    url: (since) => changesUrl({ protocol: 'http:', host: 'lq.test' }, since),
    createSocket: (url) => {
      const s = new FakeSocket(url)
      sockets.push(s)
      return s
    },
    handlers: {
      onChanges: (c) => log.changes.push(c),
      onResync: (r) => log.resyncs.push(r),
      onState: (s) => log.states.push(s),
    },
    setTimer: (fn, ms) => {
      timers.push({ fn, ms })
      return timers.length
    },
    clearTimer: () => {},
    random: () => 0.5,
  })
  const fireTimer = () => timers.shift()!.fn()
  return { client, sockets, timers, log, fireTimer }
}

describe('ChangesClient', () => {
  it('connects without since, then tracks the seq from hello and changes', () => {
    const { client, sockets, log } = harness()
    client.start()
    expect(sockets[0].url).toBe('ws://lq.test/api/v1/changes')
    sockets[0].send({ type: 'hello', seq: 10 })
    expect(client.lastSeq).toBe(10)
    expect(client.state).toBe('open')
    expect(log.resyncs).toEqual(['first-connect'])
    sockets[0].send({ type: 'changes', seq: 12, changes: [{ kind: 'vm', id: 'a', seq: 12 }] })
    expect(log.changes).toEqual([[{ kind: 'vm', id: 'a', seq: 12 }]])
    expect(client.lastSeq).toBe(12)
  })

  it('reconnects with backoff and resumes from the last seq', () => {
    const { client, sockets, timers, log, fireTimer } = harness()
    client.start()
    sockets[0].send({ type: 'hello', seq: 5 })
    sockets[0].send({ type: 'changes', seq: 7, changes: [{ kind: 'host', id: 'h', seq: 7 }] })
    sockets[0].drop()
    expect(client.state).toBe('reconnecting')
    expect(timers).toHaveLength(1)
    const first = timers[0].ms
    fireTimer()
    expect(sockets[1].url).toBe('ws://lq.test/api/v1/changes?since=7')
    // The second attempt fails too: the wait grows.
    sockets[1].drop()
    expect(timers[0].ms).toBeGreaterThan(first)
    fireTimer()
    expect(sockets[2].url).toBe('ws://lq.test/api/v1/changes?since=7')
    sockets[2].send({ type: 'hello', seq: 9 })
    expect(client.attempt).toBe(0)
    expect(client.state).toBe('open')
    // A reconnect is not a first connect: no blanket refetch, the catch-up changes follow.
    expect(log.resyncs).toEqual(['first-connect'])
    sockets[2].send({ type: 'changes', seq: 9, changes: [{ kind: 'vm', id: 'b', seq: 8 }, { kind: 'vm', id: 'c', seq: 9 }] })
    expect(client.lastSeq).toBe(9)
  })

  it('treats resync as refetch-everything and keeps its seq', () => {
    const { client, sockets, log } = harness()
    client.start()
    sockets[0].send({ type: 'hello', seq: 1 })
    sockets[0].send({ type: 'resync', seq: 500 })
    expect(log.resyncs).toEqual(['first-connect', 'resync'])
    expect(client.lastSeq).toBe(500)
  })

  it('detects a server whose stream restarted below our seq', () => {
    const { client, sockets, log, fireTimer } = harness()
    client.start()
    sockets[0].send({ type: 'hello', seq: 100 })
    sockets[0].drop()
    fireTimer()
    sockets[1].send({ type: 'hello', seq: 3 })
    expect(log.resyncs).toEqual(['first-connect', 'server-reset'])
    expect(client.lastSeq).toBe(3)
  })

  it('ignores junk frames and stops cleanly', () => {
    const { client, sockets, timers } = harness()
    client.start()
    sockets[0].onmessage?.({ data: 'not json' })
    expect(client.lastSeq).toBeNull()
    client.stop()
    expect(sockets[0].closed).toBe(true)
    expect(client.state).toBe('closed')
    expect(timers).toHaveLength(0)
  })
})

describe('backoff', () => {
  it('grows exponentially and is capped', () => {
    const opts = { initialMs: 500, maxMs: 8000, factor: 2, jitter: 0 }
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, opts))).toEqual([500, 1000, 2000, 4000, 8000, 8000])
  })
  it('uses wss on https', () => {
    expect(changesUrl({ protocol: 'https:', host: 'x' }, 4)).toBe('wss://x/api/v1/changes?since=4')
  })
})

describe('keysForChanges', () => {
  it('invalidates the item, its lists, stats, search and tasks', () => {
    const keys = keysForChanges([{ kind: 'vm', id: 'v1' }]).map((k) => JSON.stringify(k))
    expect(keys).toEqual(expect.arrayContaining(['["vm","v1"]', '["vms"]', '["stats"]', '["tasks"]', '["task"]', '["search"]', '["hosts"]']))
  })
  it('deduplicates', () => {
    const keys = keysForChanges([
      { kind: 'vm', id: 'v1' },
      { kind: 'vm', id: 'v1' },
    ])
    expect(keys.filter((k) => JSON.stringify(k) === '["vm","v1"]')).toHaveLength(1)
  })
})
