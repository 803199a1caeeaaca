/** Filter bar of an event list: type (exact or `vm.` prefix), actor, free text, time range. */
import type { EventFilters } from '../../lib/api/history'

const input = 'h-8 rounded-md border border-border bg-bg px-2 text-sm text-fg placeholder:text-subtle focus:border-accent focus:outline-none'

export function EventFilterBar({
  value,
  onChange,
  types,
  search,
  range,
}: {
  value: EventFilters
  onChange: (f: EventFilters) => void
  types: string[]
  search?: boolean
  range?: boolean
}) {
  const set = (k: keyof EventFilters) => (e: { target: { value: string } }) => onChange({ ...value, [k]: e.target.value || undefined })
  return (
    <div className="flex flex-wrap items-center gap-2 p-2" role="search">
      {search && <input className={input} aria-label="Search events" placeholder="Search id, actor or type" value={value.q ?? ''} onChange={set('q')} />}
      <select className={input} aria-label="Event type" value={value.type ?? ''} onChange={set('type')}>
        <option value="">All types</option>
        {types.map((t) => (
          <option key={t} value={t}>
            {t.endsWith('.') ? `${t}*` : t}
          </option>
        ))}
      </select>
      <input className={input} aria-label="Actor" placeholder="Actor, e.g. user:alice" value={value.actor ?? ''} onChange={set('actor')} />
      {range && (
        <>
          <input className={input} aria-label="Since" placeholder="Since (seq or time)" value={value.since ?? ''} onChange={set('since')} />
          <input className={input} aria-label="Until" placeholder="Until (seq or time)" value={value.until ?? ''} onChange={set('until')} />
        </>
      )}
    </div>
  )
}
