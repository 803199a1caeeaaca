import { cn, pct } from '../../lib/format'

/** Allocation bar: used vs capacity; turns amber past 80 % and red past 100 %. */
export function UsageBar({ used, capacity, label, className, compact }: { used: number; capacity: number; label?: string; className?: string; compact?: boolean }) {
  const p = pct(used, capacity)
  const tone = p > 100 ? 'bg-bad' : p >= 80 ? 'bg-warn' : 'bg-accent'
  return (
    <div className={cn('min-w-0', className)}>
      {label && (
        <div className="mb-1 flex justify-between gap-2 text-xs">
          <span className="truncate text-muted">{label}</span>
          <span className="tabular-nums text-muted">{capacity ? `${Math.round(p)}%` : '—'}</span>
        </div>
      )}
      <div
        className={cn('w-full overflow-hidden rounded-full bg-surface-2', compact ? 'h-1.5' : 'h-2')}
        role="meter"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(p)}
        aria-label={label}
      >
        <div className={cn('h-full rounded-full transition-[width] duration-500', tone)} style={{ width: `${Math.min(100, p)}%` }} />
      </div>
    </div>
  )
}

export function ProgressBar({ value, active, tone = 'accent' }: { value: number; active?: boolean; tone?: 'accent' | 'ok' | 'bad' }) {
  const color = tone === 'ok' ? 'bg-ok' : tone === 'bad' ? 'bg-bad' : 'bg-accent'
  const v = Math.max(0, Math.min(100, value))
  return (
    <div className="relative h-1.5 w-full overflow-hidden rounded-full bg-surface-2" role="progressbar" aria-valuenow={v} aria-valuemin={0} aria-valuemax={100}>
      <div className={cn('h-full rounded-full transition-[width] duration-300', color)} style={{ width: `${v}%` }} />
      {active && v === 0 && <div className={cn('lq-indeterminate absolute inset-y-0 left-0 w-1/3 rounded-full opacity-70', color)} />}
    </div>
  )
}
