import type { ReactNode } from 'react'
import { AlertTriangle, Inbox, Loader2, RotateCw } from 'lucide-react'
import { describeError, ApiError } from '../../lib/api/errors'
import { Button } from './Button'
import { cn } from '../../lib/format'

export function Spinner({ label = 'Loading…', className }: { label?: string; className?: string }) {
  return (
    <div className={cn('flex items-center justify-center gap-2 py-10 text-sm text-muted', className)} role="status">
      <Loader2 className="size-4 animate-spin" aria-hidden />
      {label}
    </div>
  )
}

export function EmptyState({ icon, title, children, className }: { icon?: ReactNode; title: string; children?: ReactNode; className?: string }) {
  return (
    <div className={cn('flex flex-col items-center justify-center gap-2 px-6 py-12 text-center', className)}>
      <div className="rounded-full bg-surface-2 p-3 text-subtle">{icon ?? <Inbox className="size-5" />}</div>
      <p className="font-medium">{title}</p>
      {children && <div className="max-w-md text-sm text-muted">{children}</div>}
    </div>
  )
}

export function ErrorState({ error, onRetry, title = 'Could not load this', className }: { error: unknown; onRetry?: () => void; title?: string; className?: string }) {
  const notFound = error instanceof ApiError && error.status === 404
  return (
    <div role="alert" className={cn('flex flex-col items-center justify-center gap-2 px-6 py-12 text-center', className)}>
      <div className="rounded-full bg-bad/10 p-3 text-bad">
        <AlertTriangle className="size-5" />
      </div>
      <p className="font-medium">{notFound ? 'Not found' : title}</p>
      <p className="max-w-md text-sm text-muted">{describeError(error)}</p>
      {onRetry && !notFound && (
        <Button size="sm" icon={<RotateCw className="size-3.5" />} onClick={onRetry} className="mt-2">
          Try again
        </Button>
      )}
    </div>
  )
}

export function InlineError({ error }: { error: unknown }) {
  if (!error) return null
  return (
    <div role="alert" className="flex items-start gap-2 rounded-md border border-bad/30 bg-bad/10 px-3 py-2 text-sm text-bad">
      <AlertTriangle className="mt-0.5 size-4 shrink-0" />
      <span>{describeError(error)}</span>
    </div>
  )
}
