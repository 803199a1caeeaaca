import { cn } from '../../lib/format'

type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'idle'

const TONE_OF: Record<string, Tone> = {
  running: 'ok',
  connected: 'ok',
  active: 'ok', // storage pools and networks on a host
  succeeded: 'ok',
  stopped: 'idle',
  deleted: 'idle',
  cancelled: 'idle',
  pending: 'info',
  queued: 'info',
  starting: 'info',
  stopping: 'info',
  migrating: 'info',
  paused: 'warn',
  maintenance: 'warn',
  disconnected: 'warn',
  error: 'bad',
  down: 'bad',
  failed: 'bad',
}

const TRANSITIONAL = new Set(['pending', 'queued', 'starting', 'stopping', 'migrating', 'running-task'])

const toneClass: Record<Tone, { pill: string; dot: string }> = {
  ok: { pill: 'bg-ok/10 text-ok border-ok/25', dot: 'bg-ok' },
  warn: { pill: 'bg-warn/10 text-warn border-warn/25', dot: 'bg-warn' },
  bad: { pill: 'bg-bad/10 text-bad border-bad/25', dot: 'bg-bad' },
  info: { pill: 'bg-info/10 text-info border-info/25', dot: 'bg-info' },
  idle: { pill: 'bg-idle/10 text-idle border-idle/25', dot: 'bg-idle' },
}

export function toneOf(state: string | null | undefined): Tone {
  return (state && TONE_OF[state]) || 'idle'
}

export function StateDot({ state, className }: { state: string; className?: string }) {
  const t = toneClass[toneOf(state)]
  return (
    <span className={cn('relative inline-flex size-2 shrink-0', className)} aria-hidden>
      {TRANSITIONAL.has(state) && <span className={cn('absolute inline-flex size-full animate-ping rounded-full opacity-60', t.dot)} />}
      <span className={cn('relative inline-flex size-2 rounded-full', t.dot)} />
    </span>
  )
}

export function StateBadge({ state, className }: { state: string; className?: string }) {
  const t = toneClass[toneOf(state)]
  return (
    <span
      data-state={state}
      className={cn('inline-flex items-center gap-1.5 rounded-full border px-2 py-0.5 text-xs font-medium capitalize', t.pill, className)}
    >
      <StateDot state={state} />
      {state}
    </span>
  )
}

/** Marks a VM that is a template (cannot start; new VMs are cloned from it). */
export function TemplateBadge({ className }: { className?: string }) {
  return (
    <span data-testid="template-badge" className={cn('inline-flex items-center rounded-full border border-accent/30 bg-accent-soft px-1.5 py-px text-[10px] font-semibold tracking-wide text-accent uppercase', className)}>
      Template
    </span>
  )
}
