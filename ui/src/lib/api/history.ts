/**
 * History API: filtered audit log, an entity "as of" a past sequence, diffs, task traces.
 * Event lists live under their entity's key prefix (`['vm', id, …]`) or `['events', …]`,
 * both invalidated by the live-changes stream; as-of answers never change, so they are
 * cached for good.
 */
import { keepPreviousData, useInfiniteQuery, useQuery } from '@tanstack/react-query'
import { api, type Params } from './client'
import type { LqEvent, Page } from './types'

export type HistoryKind = 'vm' | 'host'

export interface EventFilters {
  type?: string
  actor?: string
  q?: string
  since?: string
  until?: string
  order?: 'asc' | 'desc'
}

const PAGE = 100

function clean(f: EventFilters): Params {
  const out: Params = {}
  for (const [k, v] of Object.entries(f)) if (v) out[k] = v
  return out
}

function collection(kind: HistoryKind): string {
  return kind === 'vm' ? 'vms' : 'hosts'
}

/** One entity's events, filtered. */
export function useEntityEvents(kind: HistoryKind, id: string, filters: EventFilters) {
  const params = clean(filters)
  return useInfiniteQuery({
    queryKey: [kind, id, 'events', params] as const,
    queryFn: ({ signal, pageParam }) =>
      api.get<Page<LqEvent>>(`/${collection(kind)}/${encodeURIComponent(id)}/events`, { ...params, limit: PAGE, cursor: pageParam }, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
  })
}

/** The whole audit log, filtered (the /audit page). */
export function useAuditLog(filters: EventFilters) {
  const params = clean(filters)
  return useInfiniteQuery({
    queryKey: ['events', params] as const,
    queryFn: ({ signal, pageParam }) => api.get<Page<LqEvent>>('/events', { ...params, limit: PAGE, cursor: pageParam }, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
  })
}

/** Sequences at which the entity changed (newest 500), oldest first: the slider's stops. */
export function useEntityTimeline(kind: HistoryKind, id: string) {
  return useQuery({
    queryKey: [kind, id, 'timeline'] as const,
    queryFn: async ({ signal }) => {
      const page = await api.get<Page<LqEvent>>(`/${collection(kind)}/${encodeURIComponent(id)}/events`, { limit: 500, order: 'desc' }, signal)
      const stops = new Map<number, LqEvent>()
      for (const e of page.items) if (!stops.has(e.seq)) stops.set(e.seq, e)
      return [...stops.values()].reverse()
    },
  })
}

/** The entity's row as it was at stream sequence `seq` (undefined: skip). */
export function useAsOf<T>(kind: HistoryKind, id: string, seq: number | undefined) {
  return useQuery({
    queryKey: ['as-of', kind, id, seq] as const,
    queryFn: ({ signal }) => api.get<T>(`/${collection(kind)}/${encodeURIComponent(id)}`, { as_of: seq }, signal),
    enabled: seq !== undefined,
    staleTime: Infinity,
    placeholderData: keepPreviousData,
  })
}
