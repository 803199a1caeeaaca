/** Formatting helpers shared by pages. */

export function formatMiB(mib: number | null | undefined): string {
  if (mib === null || mib === undefined || !Number.isFinite(mib)) return '—'
  if (mib >= 1024 * 1024) return `${trim(mib / (1024 * 1024))} TiB`
  if (mib >= 1024) return `${trim(mib / 1024)} GiB`
  return `${trim(mib)} MiB`
}

function trim(n: number): string {
  return n >= 100 ? n.toFixed(0) : n.toFixed(1).replace(/\.0$/, '')
}

export function formatNumber(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—'
  return new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 }).format(n)
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  })
}

export function timeAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—'
  const t = new Date(iso).getTime()
  if (Number.isNaN(t)) return iso
  const s = Math.round((now - t) / 1000)
  if (s < 5) return 'just now'
  if (s < 60) return `${s}s ago`
  const m = Math.round(s / 60)
  if (m < 60) return `${m} min ago`
  const h = Math.round(m / 60)
  if (h < 24) return `${h} h ago`
  const d = Math.round(h / 24)
  return `${d} d ago`
}

export function duration(startIso: string | null | undefined, endIso: string | null | undefined): string {
  if (!startIso) return '—'
  const a = new Date(startIso).getTime()
  const b = endIso ? new Date(endIso).getTime() : Date.now()
  if (Number.isNaN(a) || Number.isNaN(b)) return '—'
  const ms = Math.max(0, b - a)
  if (ms < 1000) return `${ms} ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)} s`
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`
}

export function shortId(id: string | null | undefined): string {
  if (!id) return '—'
  return id.length > 12 ? id.slice(0, 8) : id
}

/** "vm.create" → "Create VM", "vm.start" → "Start VM". */
export function operationLabel(op: string): string {
  const [kind, verb] = op.includes('.') ? op.split('.', 2) : ['', op]
  const k = kind === 'vm' ? 'VM' : kind ? kind[0].toUpperCase() + kind.slice(1) : ''
  // Acronyms stay upper case: "vm.set_ha" → "Set HA VM".
  const v = verb ? (verb[0].toUpperCase() + verb.slice(1).replace(/_/g, ' ')).replace(/\b(ha|drs|nic)\b/gi, (w) => w.toUpperCase()) : ''
  return [v, k].filter(Boolean).join(' ')
}

export function pct(part: number, whole: number): number {
  if (!whole || whole <= 0) return 0
  return Math.max(0, Math.min(999, (part / whole) * 100))
}

export function cn(...parts: (string | false | null | undefined)[]): string {
  return parts.filter(Boolean).join(' ')
}
