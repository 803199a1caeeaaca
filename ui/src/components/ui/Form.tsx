/** Form primitives shared by the wizard and the VM dialogs: one look for inputs, labels and errors. */
import type { ReactNode } from 'react'
import { AlertTriangle } from 'lucide-react'
import { cn } from '../../lib/format'
import { ApiError } from '../../lib/api/errors'

export const inputClass = 'h-9 w-full rounded-md border border-border bg-surface-2 px-3 text-sm focus:border-accent focus:outline-none aria-[invalid=true]:border-bad/70'
export const selectClass = 'h-9 w-full rounded-md border border-border bg-surface-2 px-2 text-sm focus:border-accent focus:outline-none'
export const textareaClass = 'w-full rounded-md border border-border bg-surface-2 px-3 py-2 font-mono text-xs leading-relaxed focus:border-accent focus:outline-none aria-[invalid=true]:border-bad/70'

/**
 * A labelled control: the label wraps the title and the control (so the control is named by
 * the title alone); the hint or error follows it.
 */
export function FormField({ label, hint, error, children, className }: { label: ReactNode; hint?: ReactNode; error?: string | false | null; children: ReactNode; className?: string }) {
  return (
    <div className={cn('block', className)}>
      <label className="block">
        <span className="mb-1 block text-sm font-medium">{label}</span>
        {children}
      </label>
      {error ? <FieldError>{error}</FieldError> : hint ? <span className="mt-1 block text-xs text-subtle">{hint}</span> : null}
    </div>
  )
}

export function FieldError({ children }: { children: ReactNode }) {
  return (
    <span className="mt-1 block text-xs text-bad" data-field-error>
      {children}
    </span>
  )
}

export function Checkbox({ checked, onChange, children, disabled, name, hint }: { checked: boolean; onChange: (v: boolean) => void; children: ReactNode; disabled?: boolean; name?: string; hint?: ReactNode }) {
  return (
    <label className={cn('flex items-start gap-2 text-sm', disabled && 'opacity-50')}>
      <input type="checkbox" checked={checked} disabled={disabled} name={name} onChange={(e) => onChange(e.target.checked)} className="mt-0.5 size-4 shrink-0 accent-[var(--lq-accent)]" />
      <span>
        {children}
        {hint && <span className="block text-xs text-subtle">{hint}</span>}
      </span>
    </label>
  )
}

/**
 * A server problem as the server wrote it (title, detail and type), for forms where the
 * exact words matter; `field` names the input it is about when known.
 */
export function ProblemBox({ error, field, onShowField }: { error: unknown; field?: string; onShowField?: () => void }) {
  if (!error) return null
  const api = error instanceof ApiError ? error : null
  return (
    <div role="alert" className="flex items-start gap-2 rounded-md border border-bad/30 bg-bad/10 px-3 py-2 text-sm text-bad" data-testid="problem">
      <AlertTriangle className="mt-0.5 size-4 shrink-0" />
      <div className="min-w-0 flex-1">
        {api && api.status > 0 ? (
          <>
            <p className="font-medium">{api.title}</p>
            {api.detail && <p className="mt-0.5 break-words whitespace-pre-wrap">{api.detail}</p>}
            <p className="mt-1 text-xs opacity-80">
              {api.status} {api.slug}
              {field && (
                <>
                  {' · field '}
                  <code className="rounded bg-bad/10 px-1">{field}</code>
                  {onShowField && (
                    <button type="button" className="ml-2 underline hover:no-underline" onClick={onShowField}>
                      Show
                    </button>
                  )}
                </>
              )}
            </p>
          </>
        ) : (
          <p>{error instanceof Error ? error.message : String(error)}</p>
        )}
      </div>
    </div>
  )
}
