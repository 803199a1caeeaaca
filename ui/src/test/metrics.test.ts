import { describe, expect, it } from 'vitest'
import { formatBytes, formatUnit, refreshFor } from '../lib/api/metrics'
import { chartSeries } from '../components/metrics/MetricChart'

describe('metrics formatting', () => {
  it('formats values by unit', () => {
    expect(formatUnit(null, '%')).toBe('—')
    expect(formatUnit(5.25, '%')).toBe('5.3%')
    expect(formatUnit(55.4, '%')).toBe('55%')
    expect(formatUnit(2048, 'MiB')).toBe('2.0 GiB')
    expect(formatUnit(1536, 'B/s')).toBe('1.5 KiB/s')
    expect(formatUnit(0.5, '')).toBe('0.50')
    expect(formatBytes(0)).toBe('0 B')
  })

  it('keeps one unit per chart', () => {
    const s = chartSeries([
      { key: 'mem_used_mib', label: 'Used', unit: 'MiB' },
      { key: 'mem_total_mib', label: 'Total', unit: 'MiB' },
      { key: 'mem_pct', label: 'Used', unit: '%' },
    ])
    expect(s.map((x) => x.key)).toEqual(['mem_used_mib', 'mem_total_mib'])
  })

  it('refreshes short ranges often and long ranges rarely', () => {
    expect(refreshFor('15m')).toBeLessThan(refreshFor('1d'))
    expect(refreshFor('30d')).toBeGreaterThanOrEqual(60_000)
  })
})
