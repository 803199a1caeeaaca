/**
 * Wires the live-changes WebSocket to TanStack Query: changes invalidate the queries they
 * touch (batched over a short window), resync invalidates everything. No polling anywhere.
 */
import type { QueryClient } from '@tanstack/react-query'
import { api } from './api/client'
import { accessToken, currentToken } from './auth'
import { ChangesClient, changesUrl, type Change, type WebSocketLike } from './changes'
import { keysForChanges, type QueryKey } from './queryKeys'
import { useConnection } from '../stores/ui'

const FLUSH_MS = 120

export function startLiveUpdates(queryClient: QueryClient): () => void {
  // Keys waiting to be invalidated, by their JSON form.
  const pending = new Map<string, QueryKey>()
  let flushTimer: ReturnType<typeof setTimeout> | null = null

  const schedule = () => {
    if (flushTimer === null) flushTimer = setTimeout(flush, FLUSH_MS)
  }

  /**
   * Invalidate the batch. A query that is fetching right now is not cancelled (a stream of
   * changes would starve it) and not skipped (its answer may predate the change): its key
   * waits for the next flush, after the running fetch has landed.
   */
  const flush = () => {
    flushTimer = null
    for (const [id, key] of [...pending]) {
      if (queryClient.isFetching({ queryKey: key }) > 0) continue
      pending.delete(id)
      void queryClient.invalidateQueries({ queryKey: key }, { cancelRefetch: false })
    }
    if (pending.size) schedule()
  }

  const client = new ChangesClient({
    url: (since) => {
      useConnection.getState().set({ since })
      return changesUrl(window.location, since)
    },
    // Browsers cannot set headers on a WebSocket: the token rides as a subprotocol, and the
    // server answers with `lq.v1` (docs/api.md "Live changes").
    createSocket: (url) => {
      // An idle dashboard makes no API calls: refresh here (async) so that a reconnect
      // after the access token expired finds a fresh one on its next attempt.
      void accessToken()
      const token = currentToken()
      const protocols = token ? ['lq.v1', `bearer.${token}`] : undefined
      return new WebSocket(url, protocols) as unknown as WebSocketLike
    },
    handlers: {
      onChanges: (changes: Change[]) => {
        for (const key of keysForChanges(changes)) pending.set(JSON.stringify(key), key)
        schedule()
      },
      onResync: (reason, seq) => {
        pending.clear()
        if (reason === 'server-reset') api.resetSeq(seq)
        void queryClient.invalidateQueries()
      },
      onSeq: (seq) => {
        api.noteSeen(seq)
        useConnection.getState().set({ seq })
      },
      onState: (state, info) => useConnection.getState().set({ state, attempt: info.attempt, retryInMs: info.retryInMs }),
    },
  })

  const online = () => client.reconnectNow()
  window.addEventListener('online', online)
  client.start()
  return () => {
    window.removeEventListener('online', online)
    if (flushTimer) clearTimeout(flushTimer)
    client.stop()
  }
}
