import { describe, expect, it } from 'vitest'
import { currentCursor, initialPaging, pageRange, pagingReducer } from '../lib/paging'

describe('cursor paging', () => {
  it('walks forward and back with a cursor stack', () => {
    let s = initialPaging(100)
    expect(currentCursor(s)).toBeNull()
    s = pagingReducer(s, { type: 'next', cursor: 'c1' })
    s = pagingReducer(s, { type: 'next', cursor: 'c2' })
    expect(s.index).toBe(2)
    expect(currentCursor(s)).toBe('c2')
    expect(pageRange(s, 100)).toEqual({ from: 201, to: 300 })
    s = pagingReducer(s, { type: 'prev' })
    expect(currentCursor(s)).toBe('c1')
    // Going forward from page 1 with a new cursor drops the stale tail.
    s = pagingReducer(s, { type: 'next', cursor: 'c2b' })
    expect(s.cursors).toEqual([null, 'c1', 'c2b'])
  })

  it('ignores next without a cursor and prev on the first page', () => {
    const s = initialPaging(50)
    expect(pagingReducer(s, { type: 'next', cursor: null })).toBe(s)
    expect(pagingReducer(s, { type: 'prev' })).toBe(s)
  })

  it('resets on filter change and page size change', () => {
    let s = pagingReducer(initialPaging(100), { type: 'next', cursor: 'c1' })
    s = pagingReducer(s, { type: 'reset' })
    expect(s).toEqual({ cursors: [null], index: 0, pageSize: 100 })
    s = pagingReducer(pagingReducer(s, { type: 'next', cursor: 'x' }), { type: 'pageSize', size: 9999 })
    expect(s).toEqual({ cursors: [null], index: 0, pageSize: 500 })
  })

  it('reports an empty range for an empty page', () => {
    expect(pageRange(initialPaging(), 0)).toEqual({ from: 0, to: 0 })
  })
})
