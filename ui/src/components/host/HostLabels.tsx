/**
 * A host's labels (placement rules and DRS match on them) with an editor: rows of key and
 * value, checked in the browser with the server's rules, saved in one
 * `PATCH /hosts/{id} {labels}` that replaces the set. A refusal stays in the dialog.
 */
import { useState } from 'react'
import { Pencil, Plus, Tag, Trash2 } from 'lucide-react'
import { Button } from '../ui/Button'
import { Card } from '../ui/Card'
import { Dialog } from '../ui/Dialog'
import { ProblemBox, inputClass } from '../ui/Form'
import { useCan } from '../../lib/api/security'
import { labelRows, toLabels, useSetHostLabels, validateLabels, type LabelRow } from '../../lib/api/hosts'
import type { Host } from '../../lib/api/types'

export function LabelChips({ labels }: { labels: Record<string, string> | null | undefined }) {
  const rows = labelRows(labels)
  if (!rows.length) return <span className="text-sm text-subtle">None</span>
  return (
    <ul className="flex flex-wrap gap-1.5" aria-label="Labels">
      {rows.map(({ key, value }) => (
        <li key={key} data-label={key} className="rounded border border-border bg-surface-2 px-1.5 py-0.5 font-mono text-xs">
          {key}={value}
        </li>
      ))}
    </ul>
  )
}

export function HostLabelsCard({ host }: { host: Host }) {
  const canEdit = useCan('cluster.manage', { clusterId: host.cluster_id })
  const [open, setOpen] = useState(false)
  return (
    <Card
      title="Labels"
      actions={
        canEdit && (
          <Button size="sm" icon={<Pencil className="size-3.5" />} onClick={() => setOpen(true)}>
            Edit labels
          </Button>
        )
      }
    >
      <LabelChips labels={host.labels} />
      <p className="mt-3 text-xs text-subtle">Affinity rules and VM placement labels select hosts by these.</p>
      {open && <LabelsDialog host={host} onClose={() => setOpen(false)} />}
    </Card>
  )
}

function LabelsDialog({ host, onClose }: { host: Host; onClose: () => void }) {
  const [rows, setRows] = useState<LabelRow[]>(() => {
    const r = labelRows(host.labels)
    return r.length ? r : [{ key: '', value: '' }]
  })
  const [tried, setTried] = useState(false)
  const save = useSetHostLabels(host.id)
  const errors = validateLabels(rows)
  const err = (k: string) => (tried ? errors[k] : undefined)
  const update = (i: number, patch: Partial<LabelRow>) => setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)))
  const submit = (e: React.FormEvent) => {
    e.preventDefault()
    setTried(true)
    if (Object.keys(errors).length) return
    save.mutate(toLabels(rows), { onSuccess: onClose })
  }
  return (
    <Dialog
      open
      onClose={onClose}
      title={`Labels of ${host.name}`}
      description="Saving replaces every label of the host."
      width="max-w-xl"
      footer={
        <>
          <Button variant="ghost" onClick={onClose}>
            Cancel
          </Button>
          <Button variant="primary" type="submit" form="host-labels" loading={save.isPending}>
            Save labels
          </Button>
        </>
      }
    >
      <form id="host-labels" onSubmit={submit} noValidate aria-label="Host labels" className="flex flex-col gap-3">
        {rows.map((r, i) => (
          <div key={i} className="grid grid-cols-[1fr_1fr_auto] items-start gap-2" data-testid={`label-row-${i}`}>
            <div>
              <input className={inputClass} value={r.key} placeholder="rack" aria-label={`Label ${i + 1} key`} onChange={(e) => update(i, { key: e.target.value })} {...(err(`labels.${i}.key`) ? { 'aria-invalid': true } : {})} />
              {err(`labels.${i}.key`) && <p className="mt-1 text-xs text-bad">{err(`labels.${i}.key`)}</p>}
            </div>
            <div>
              <input className={inputClass} value={r.value} placeholder="r12" aria-label={`Label ${i + 1} value`} onChange={(e) => update(i, { value: e.target.value })} {...(err(`labels.${i}.value`) ? { 'aria-invalid': true } : {})} />
              {err(`labels.${i}.value`) && <p className="mt-1 text-xs text-bad">{err(`labels.${i}.value`)}</p>}
            </div>
            <Button variant="ghost" aria-label={`Remove label ${i + 1}`} icon={<Trash2 className="size-4" />} onClick={() => setRows(rows.filter((_, j) => j !== i))} />
          </div>
        ))}
        {!rows.length && <p className="text-sm text-muted">No labels: saving removes them all.</p>}
        <div>
          <Button size="sm" icon={<Plus className="size-3.5" />} onClick={() => setRows([...rows, { key: '', value: '' }])}>
            Add label
          </Button>
        </div>
        {save.isError && <ProblemBox error={save.error} />}
        <p className="flex items-center gap-1.5 text-xs text-subtle">
          <Tag className="size-3" /> Keys: letters, digits, &apos;.&apos;, &apos;_&apos;, &apos;-&apos;, &apos;/&apos;. Values may be empty.
        </p>
      </form>
    </Dialog>
  )
}
