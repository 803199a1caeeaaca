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

export interface Timeline {
  /** One event per sequence at which the entity changed, oldest first: the slider's stops. */
  stops: LqEvent[]
  /** Every event type the entity has, sorted: the type filter's choices. */
  types: string[]
}

/**
 * The timeline of an entity's events. One stream sequence can carry several events (a
 * host's report lands as `task.succeeded` and `vm.resized` together); its stop is labelled
 * with the entity's own last event there, and every type still reaches the filter.
 */
export function timelineOf(kind: HistoryKind, events: LqEvent[]): Timeline {
  const stops = new Map<number, LqEvent>()
  const own = (e: LqEvent) => e.type.startsWith(`${kind}.`)
  const better = (a: LqEvent, b: LqEvent) => (own(a) !== own(b) ? own(a) : a.index > b.index)
  for (const e of events) {
    const seen = stops.get(e.seq)
    if (!seen || better(e, seen)) stops.set(e.seq, e)
  }
  return {
    stops: [...stops.values()].sort((a, b) => a.seq - b.seq),
    types: [...new Set(events.map((e) => e.type))].sort(),
  }
}

/** The entity's timeline from its newest 500 events. */
export function useEntityTimeline(kind: HistoryKind, id: string) {
  return useQuery({
    queryKey: [kind, id, 'timeline'] as const,
    queryFn: async ({ signal }) => {
      const page = await api.get<Page<LqEvent>>(`/${collection(kind)}/${encodeURIComponent(id)}/events`, { limit: 500, order: 'desc' }, signal)
      return timelineOf(kind, page.items)
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
