import { describe, expect, it } from 'vitest'
import { formatBytes } from '../lib/api/storage'
import { keysForChanges } from '../lib/queryKeys'

describe('storage', () => {
  it('formats byte sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(20 * 1024 ** 3)).toBe('20.0 GiB')
    expect(formatBytes(100 * 1024 ** 3)).toBe('100 GiB')
    expect(formatBytes(undefined)).toBe('—')
  })

  it('invalidates pools and volumes on their changes, and volumes on VM changes', () => {
    const keys = keysForChanges([{ kind: 'storage_pool', id: 'p' }, { kind: 'volume', id: 'v' }]).map((k) => JSON.stringify(k))
    expect(keys).toContain(JSON.stringify(['storage_pools']))
    expect(keys).toContain(JSON.stringify(['volumes']))
    const vm = keysForChanges([{ kind: 'vm', id: 'x' }]).map((k) => JSON.stringify(k))
    expect(vm).toContain(JSON.stringify(['volumes']))
  })
})
