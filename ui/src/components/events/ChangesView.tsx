/** An event's before/after values (`changes`), as a small diff table. */
import { cn } from '../../lib/format'

export type Changes = Record<string, [unknown, unknown] | unknown>

function show(v: unknown): string {
  if (v === null || v === undefined) return '—'
  if (typeof v === 'object') return JSON.stringify(v)
  return String(v)
}

export function pairOf(v: unknown): [unknown, unknown] {
  return Array.isArray(v) && v.length === 2 ? [v[0], v[1]] : [undefined, v]
}

/** One line summary: `state: running → stopping, …`. */
export function changesSummary(changes: Changes | null | undefined, max = 3): string {
  if (!changes) return ''
  const parts = Object.entries(changes).map(([k, v]) => {
    const [a, b] = pairOf(v)
    return `${k}: ${show(a)} → ${show(b)}`
  })
  return parts.slice(0, max).join('  ') + (parts.length > max ? `  +${parts.length - max}` : '')
}

export function ChangesView({ changes, className }: { changes: Changes | null | undefined; className?: string }) {
  const entries = Object.entries(changes ?? {})
  if (!entries.length) return <p className={cn('text-xs text-subtle', className)}>No configuration changed.</p>
  return (
    <table className={cn('text-xs', className)} data-testid="changes">
      <thead className="text-left text-[11px] text-subtle uppercase">
        <tr>
          <th className="pr-4 font-medium">Field</th>
          <th className="pr-4 font-medium">Before</th>
          <th className="font-medium">After</th>
        </tr>
      </thead>
      <tbody className="font-mono">
        {entries.map(([field, v]) => {
          const [a, b] = pairOf(v)
          return (
            <tr key={field}>
              <td className="pr-4 text-muted">{field}</td>
              <td className="pr-4 text-bad line-through decoration-bad/40">{show(a)}</td>
              <td className="text-ok">{show(b)}</td>
            </tr>
          )
        })}
      </tbody>
    </table>
  )
}
