/**
 * Cursor paging state for server-side lists. The API's cursors are opaque and only go
 * forward, so "previous" is a stack of the cursors that led to each page.
 */
import { useCallback, useReducer } from 'react'

export interface PagingState {
  /** cursors[i] is the cursor that fetches page i (page 0 has none). */
  cursors: (string | null)[]
  index: number
  pageSize: number
}

export type PagingAction =
  | { type: 'next'; cursor: string | null | undefined }
  | { type: 'prev' }
  | { type: 'first' }
  | { type: 'reset' }
  | { type: 'pageSize'; size: number }

export const PAGE_SIZES = [50, 100, 200, 500] as const

export function initialPaging(pageSize = 100): PagingState {
  return { cursors: [null], index: 0, pageSize }
}

export function pagingReducer(s: PagingState, a: PagingAction): PagingState {
  switch (a.type) {
    case 'next': {
      if (!a.cursor) return s
      const cursors = s.cursors.slice(0, s.index + 1)
      cursors.push(a.cursor)
      return { ...s, cursors, index: s.index + 1 }
    }
    case 'prev':
      return s.index === 0 ? s : { ...s, index: s.index - 1 }
    case 'first':
    case 'reset':
      return s.index === 0 && s.cursors.length === 1 ? s : { ...s, cursors: [null], index: 0 }
    case 'pageSize': {
      const size = Math.max(1, Math.min(500, Math.floor(a.size)))
      return { cursors: [null], index: 0, pageSize: size }
    }
  }
}

export function currentCursor(s: PagingState): string | null {
  return s.cursors[s.index] ?? null
}

/** 1-based range of rows shown, for "101–200 of 50,000". */
export function pageRange(s: PagingState, itemsOnPage: number): { from: number; to: number } {
  const from = itemsOnPage === 0 ? 0 : s.index * s.pageSize + 1
  return { from, to: from === 0 ? 0 : from + itemsOnPage - 1 }
}

export function usePaging(pageSize = 100) {
  const [state, dispatch] = useReducer(pagingReducer, pageSize, initialPaging)
  return {
    state,
    cursor: currentCursor(state),
    next: useCallback((cursor: string | null | undefined) => dispatch({ type: 'next', cursor }), []),
    prev: useCallback(() => dispatch({ type: 'prev' }), []),
    reset: useCallback(() => dispatch({ type: 'reset' }), []),
    setPageSize: useCallback((size: number) => dispatch({ type: 'pageSize', size }), []),
  }
}
