/** The Monitoring tab of a VM or host: a range picker and the four metric charts. */
import { useState } from 'react'
import { MetricChart } from './MetricChart'
import { RANGES, type Entity, type MetricRange } from '../../lib/api/metrics'
import { cn } from '../../lib/format'

export function RangePicker({ value, onChange }: { value: MetricRange; onChange: (r: MetricRange) => void }) {
  return (
    <div role="radiogroup" aria-label="Time range" className="inline-flex rounded-md border border-border bg-surface p-0.5">
      {RANGES.map((r) => (
        <button
          key={r}
          role="radio"
          aria-checked={r === value}
          onClick={() => onChange(r)}
          className={cn('rounded px-2.5 py-1 text-xs', r === value ? 'bg-accent-soft font-medium text-fg' : 'text-muted hover:text-fg')}
        >
          {r}
        </button>
      ))}
    </div>
  )
}

export function MonitoringPanel({ entity, id }: { entity: Entity; id: string }) {
  const [range, setRange] = useState<MetricRange>('1h')
  return (
    <div className="flex flex-col gap-4">
      <div className="flex items-center justify-between">
        <p className="text-xs text-subtle">Sampled by the host agent through libvirt; charts refresh on their own.</p>
        <RangePicker value={range} onChange={setRange} />
      </div>
      <div className="grid gap-4 xl:grid-cols-2">
        <MetricChart entity={entity} id={id} metric="cpu" range={range} />
        <MetricChart entity={entity} id={id} metric="memory" range={range} />
        <MetricChart entity={entity} id={id} metric="disk" range={range} />
        <MetricChart entity={entity} id={id} metric="net" range={range} />
      </div>
    </div>
  )
}
