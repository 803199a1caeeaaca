import { useConnection } from '../../stores/ui'
import { cn } from '../../lib/format'

/** Live-updates state: green when the change stream is open, amber while reconnecting. */
export function ConnectionIndicator() {
  const { state, seq, retryInMs, attempt } = useConnection()
  const label = state === 'open' ? 'Live' : state === 'connecting' ? 'Connecting…' : state === 'reconnecting' ? 'Reconnecting…' : 'Offline'
  const title =
    state === 'open'
      ? `Live updates on (stream position ${seq.toLocaleString()})`
      : state === 'reconnecting'
        ? `Connection to the server lost. Retrying${retryInMs ? ` in ${Math.ceil(retryInMs / 1000)} s` : ''} (attempt ${attempt}). The page resumes where it left off.`
        : 'Not connected'
  return (
    <div
      data-testid="connection"
      data-state={state}
      title={title}
      role="status"
      aria-label={title}
      className={cn(
        'flex items-center gap-1.5 rounded-full border px-2.5 py-1 text-xs font-medium',
        state === 'open' ? 'border-ok/25 bg-ok/10 text-ok' : state === 'closed' ? 'border-bad/30 bg-bad/10 text-bad' : 'border-warn/30 bg-warn/10 text-warn',
      )}
    >
      <span className="relative flex size-2">
        {state === 'open' && <span className="absolute inline-flex size-full animate-ping rounded-full bg-ok opacity-50" />}
        <span className={cn('relative inline-flex size-2 rounded-full', state === 'open' ? 'bg-ok' : state === 'closed' ? 'bg-bad' : 'bg-warn')} />
      </span>
      {label}
    </div>
  )
}

export function ConnectionBanner() {
  const { state, retryInMs } = useConnection()
  if (state !== 'reconnecting') return null
  return (
    <div role="alert" className="border-b border-warn/30 bg-warn/10 px-4 py-1.5 text-center text-xs text-warn">
      Connection to the LimiQuantix server lost — what you see may be out of date. Reconnecting
      {retryInMs ? ` in ${Math.ceil(retryInMs / 1000)} s` : ''}…
    </div>
  )
}
