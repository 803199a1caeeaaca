import { useEffect, useRef, useState } from 'react'
import { useNavigate } from 'react-router'
import { Loader2, Monitor, Search, Server } from 'lucide-react'
import { useSearch } from '../../lib/api/hooks'
import { describeError } from '../../lib/api/errors'
import { StateBadge } from '../ui/StateBadge'
import { cn } from '../../lib/format'
import type { SearchHit } from '../../lib/api/types'

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value)
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms)
    return () => clearTimeout(t)
  }, [value, ms])
  return v
}

const hitPath = (h: SearchHit) => (h.kind === 'vm' ? `/vms/${h.id}` : `/hosts/${h.id}`)

/** Global search: `/` focuses it, arrows move through results, Enter opens, Escape closes. */
export function SearchBox() {
  const [q, setQ] = useState('')
  const [open, setOpen] = useState(false)
  const [active, setActive] = useState(0)
  const input = useRef<HTMLInputElement>(null)
  const term = useDebounced(q, 150)
  const search = useSearch(term)
  const nav = useNavigate()
  const hits = term.trim() ? (search.data ?? []) : []

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return
      const t = e.target as HTMLElement | null
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return
      if (document.querySelector('[role=dialog]')) return
      e.preventDefault()
      input.current?.focus()
      input.current?.select()
    }
    document.addEventListener('keydown', onKey)
    return () => document.removeEventListener('keydown', onKey)
  }, [])

  useEffect(() => setActive(0), [term])

  const go = (h: SearchHit) => {
    nav(hitPath(h))
    setOpen(false)
    setQ('')
    input.current?.blur()
  }

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault()
      setOpen(true)
      setActive((a) => Math.min(a + 1, hits.length - 1))
    } else if (e.key === 'ArrowUp') {
      e.preventDefault()
      setActive((a) => Math.max(a - 1, 0))
    } else if (e.key === 'Enter') {
      const h = hits[active]
      if (h) go(h)
      else if (q.trim()) {
        nav(`/vms?q=${encodeURIComponent(q.trim())}`)
        setOpen(false)
      }
    } else if (e.key === 'Escape') {
      setOpen(false)
      input.current?.blur()
    }
  }

  const showPanel = open && q.trim().length > 0
  return (
    <div className="relative w-full max-w-md">
      <Search className="pointer-events-none absolute top-1/2 left-2.5 size-4 -translate-y-1/2 text-subtle" />
      <input
        ref={input}
        value={q}
        onChange={(e) => {
          setQ(e.target.value)
          setOpen(true)
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 120)}
        onKeyDown={onKeyDown}
        placeholder="Search VMs and hosts…"
        aria-label="Search VMs and hosts"
        role="combobox"
        aria-expanded={showPanel}
        aria-controls="lq-search-results"
        aria-activedescendant={showPanel && hits[active] ? `lq-hit-${active}` : undefined}
        className="h-8 w-full rounded-md border border-border bg-surface-2 pr-10 pl-8 text-sm placeholder:text-subtle focus:border-accent focus:outline-none"
      />
      <kbd className="pointer-events-none absolute top-1/2 right-2 -translate-y-1/2 rounded border border-border px-1.5 text-[10px] text-subtle">/</kbd>
      {showPanel && (
        <div
          id="lq-search-results"
          role="listbox"
          className="absolute top-full right-0 left-0 z-40 mt-1 overflow-hidden rounded-lg border border-border-strong bg-elevated shadow-2xl shadow-black/50"
        >
          {search.isFetching && hits.length === 0 && (
            <div className="flex items-center gap-2 px-3 py-3 text-sm text-muted">
              <Loader2 className="size-3.5 animate-spin" /> Searching…
            </div>
          )}
          {search.isError && <div className="px-3 py-3 text-sm text-bad">{describeError(search.error)}</div>}
          {!search.isFetching && !search.isError && term.trim() && hits.length === 0 && (
            <div className="px-3 py-3 text-sm text-muted">Nothing matches “{term.trim()}”.</div>
          )}
          {hits.map((h, i) => (
            <div
              key={`${h.kind}-${h.id}`}
              id={`lq-hit-${i}`}
              role="option"
              aria-selected={i === active}
              onMouseDown={(e) => {
                e.preventDefault()
                go(h)
              }}
              onMouseEnter={() => setActive(i)}
              className={cn('flex cursor-pointer items-center gap-2.5 px-3 py-2 text-sm', i === active && 'bg-accent-soft')}
            >
              {h.kind === 'vm' ? <Monitor className="size-4 text-muted" /> : <Server className="size-4 text-muted" />}
              <span className="truncate">{h.name}</span>
              <span className="text-xs text-subtle uppercase">{h.kind}</span>
              <StateBadge state={h.state} className="ml-auto" />
            </div>
          ))}
          {hits.length > 0 && (
            <div className="border-t border-border px-3 py-1.5 text-[11px] text-subtle">↑↓ to move · Enter to open · Esc to close</div>
          )}
        </div>
      )}
    </div>
  )
}
