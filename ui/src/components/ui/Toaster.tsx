import { Link } from 'react-router'
import { CheckCircle2, Info, X, XCircle } from 'lucide-react'
import { useToasts } from '../../stores/ui'
import { cn } from '../../lib/format'

export function Toaster() {
  const { toasts, dismiss } = useToasts()
  return (
    <div className="pointer-events-none fixed right-4 bottom-4 z-[60] flex w-96 max-w-[calc(100vw-2rem)] flex-col gap-2" aria-live="polite">
      {toasts.map((t) => (
        <div
          key={t.id}
          role={t.kind === 'error' ? 'alert' : 'status'}
          className={cn(
            'pointer-events-auto flex gap-3 rounded-lg border bg-elevated p-3 shadow-xl shadow-black/40',
            t.kind === 'error' ? 'border-bad/40' : t.kind === 'success' ? 'border-ok/30' : 'border-border-strong',
          )}
        >
          {t.kind === 'error' ? (
            <XCircle className="mt-0.5 size-4 shrink-0 text-bad" />
          ) : t.kind === 'success' ? (
            <CheckCircle2 className="mt-0.5 size-4 shrink-0 text-ok" />
          ) : (
            <Info className="mt-0.5 size-4 shrink-0 text-info" />
          )}
          <div className="min-w-0 flex-1 text-sm">
            <p className="font-medium">{t.title}</p>
            {t.message && <p className="mt-0.5 whitespace-pre-line text-muted">{t.message}</p>}
            {t.link && (
              <Link to={t.link.to} className="mt-1 inline-block text-accent hover:underline" onClick={() => dismiss(t.id)}>
                {t.link.label}
              </Link>
            )}
          </div>
          <button onClick={() => dismiss(t.id)} className="self-start rounded p-0.5 text-subtle hover:text-fg" aria-label="Dismiss">
            <X className="size-3.5" />
          </button>
        </div>
      ))}
    </div>
  )
}
