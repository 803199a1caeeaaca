/**
 * One tab's fleet settings (docs/settings.md): each field with its current value, its
 * default, who changed it last (from the `settings.changed` events) and its own
 * validation; Save sends every edited field of the tab in one PATCH — all or nothing, so a
 * refused value changes nothing and the problem is shown under the form.
 */
import { useMemo, useState, type FormEvent } from 'react'
import { Save, Undo2 } from 'lucide-react'
import { Button } from '../ui/Button'
import { Card } from '../ui/Card'
import { ErrorState, Spinner } from '../ui/Feedback'
import { ProblemBox } from '../ui/Form'
import { useCan } from '../../lib/api/security'
import {
  parseSetting,
  settingText,
  useFleetSettings,
  useSaveSettings,
  type FleetSetting,
  type SettingGroup,
  type SettingValue,
} from '../../lib/api/settings'
import { toast } from '../../stores/ui'

const input = 'h-8 w-full max-w-sm rounded-md border border-border bg-bg px-2 text-sm text-fg outline-none focus:border-accent aria-[invalid=true]:border-bad'

export function FleetSettingsForm({ group, title }: { group: SettingGroup; title: string }) {
  const settings = useFleetSettings()
  const canManage = useCan('settings.manage')
  const save = useSaveSettings()
  const [draft, setDraft] = useState<Record<string, string>>({})
  const items = useMemo(() => (settings.data?.items ?? []).filter((s) => s.group === group), [settings.data, group])

  if (settings.isPending) return <Spinner />
  if (settings.isError) return <ErrorState error={settings.error} onRetry={() => void settings.refetch()} />

  const parsed = items.map((s) => {
    const text = draft[s.key]
    if (text === undefined) return { s, edited: false as const }
    const p = parseSetting(s, text)
    return { s, edited: true as const, ...p }
  })
  const errors = Object.fromEntries(parsed.flatMap((p) => (p.edited && 'error' in p ? [[p.s.key, p.error]] : [])))
  const patch: Record<string, SettingValue> = {}
  for (const p of parsed) if (p.edited && 'value' in p && p.value !== p.s.value) patch[p.s.key] = p.value
  const dirty = Object.keys(patch).length > 0
  const invalid = Object.keys(errors).length > 0

  const submit = (e: FormEvent) => {
    e.preventDefault()
    if (!dirty || invalid) return
    save.mutate(patch, {
      onSuccess: (out) => {
        setDraft({})
        const n = out.changed_keys?.length ?? 0
        toast.success('Settings saved', n === 1 ? '1 setting changed' : `${n} settings changed`)
      },
    })
  }

  return (
    <Card title={title} bodyClassName="p-0">
      <form onSubmit={submit} aria-label={`${title} settings`} noValidate>
        <ul className="divide-y divide-border">
          {items.map((s) => (
            <SettingRow
              key={s.key}
              s={s}
              text={draft[s.key] ?? settingText(s.value)}
              error={errors[s.key]}
              readOnly={!canManage}
              onChange={(t) => {
                save.reset()
                setDraft((d) => ({ ...d, [s.key]: t }))
              }}
            />
          ))}
        </ul>
        {canManage ? (
          <div className="space-y-2 border-t border-border p-3">
            <ProblemBox error={save.error} />
            <div className="flex gap-2">
              <Button type="submit" size="sm" variant="primary" icon={<Save className="size-3.5" />} loading={save.isPending} disabled={!dirty || invalid}>
                Save
              </Button>
              <Button type="button" size="sm" variant="ghost" icon={<Undo2 className="size-3.5" />} disabled={!Object.keys(draft).length} onClick={() => { setDraft({}); save.reset() }}>
                Discard
              </Button>
            </div>
          </div>
        ) : (
          <p className="border-t border-border p-3 text-xs text-muted">Read-only: changing fleet settings needs the permission settings.manage.</p>
        )}
      </form>
    </Card>
  )
}

function SettingRow({ s, text, error, readOnly, onChange }: { s: FleetSetting; text: string; error?: string; readOnly: boolean; onChange: (t: string) => void }) {
  const id = `setting-${s.key}`
  const bounds = s.minimum !== null || s.maximum !== null ? ` (${s.minimum ?? '…'}–${s.maximum ?? '…'}${s.unit ? ` ${s.unit}` : ''})` : s.unit ? ` (${s.unit})` : ''
  return (
    <li className="grid gap-1 px-4 py-3 md:grid-cols-[16rem_1fr]" data-setting={s.key}>
      <div>
        <label htmlFor={id} className="text-sm font-medium text-fg">{s.label}</label>
        <p className="text-xs text-muted">{s.help}{bounds}</p>
      </div>
      <div className="space-y-1">
        {s.type === 'choice' ? (
          <select id={id} className={input} value={text} disabled={readOnly} onChange={(e) => onChange(e.target.value)}>
            {s.choices.map((c) => <option key={c}>{c}</option>)}
          </select>
        ) : (
          <input
            id={id}
            className={input}
            value={text}
            readOnly={readOnly}
            inputMode={s.type === 'int' || s.type === 'float' ? 'decimal' : undefined}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? `${id}-error` : undefined}
            onChange={(e) => onChange(e.target.value)}
          />
        )}
        {error && <p id={`${id}-error`} role="alert" className="text-xs text-bad">{error}</p>}
        <p className="text-xs text-subtle" data-testid={`${id}-origin`}>
          {s.changed && s.changed_by
            ? `Changed by ${s.changed_by}${s.changed_at ? ` on ${new Date(s.changed_at).toLocaleString()}` : ''} · default ${settingText(s.default) || '(empty)'}`
            : `Default${s.process_setting ? ` (process setting ${s.process_setting})` : ''}`}
        </p>
      </div>
    </li>
  )
}
