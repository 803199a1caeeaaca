import { Dialog } from '../ui/Dialog'
import { Button } from '../ui/Button'
import type { VmAction } from '../../lib/api/hooks'

const TEXT: Record<'stop' | 'delete', { title: string; body: string; cta: string }> = {
  stop: {
    title: 'Stop',
    body: 'Stopping powers the VM off immediately, like pulling the plug. Unsaved data inside the guest is lost.',
    cta: 'Power off',
  },
  delete: {
    title: 'Delete',
    body: 'Deleting removes the VM and its definition from its host. This cannot be undone.',
    cta: 'Delete',
  },
}

export function ConfirmAction({ action, names, onConfirm, onClose }: { action: VmAction | null; names: string[]; onConfirm: () => void; onClose: () => void }) {
  if (action !== 'stop' && action !== 'delete') return null
  const t = TEXT[action]
  const what = names.length === 1 ? names[0] : `${names.length} VMs`
  return (
    <Dialog
      open
      onClose={onClose}
      title={`${t.title} ${what}?`}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button
            variant="danger"
            data-autofocus
            onClick={() => {
              onConfirm()
              onClose()
            }}
          >
            {t.cta}
          </Button>
        </>
      }
    >
      <p className="text-sm text-muted">{t.body}</p>
      {names.length > 1 && (
        <ul className="mt-3 max-h-40 overflow-y-auto rounded-md border border-border bg-surface-2 px-3 py-2 text-sm">
          {names.slice(0, 50).map((n) => (
            <li key={n} className="truncate">
              {n}
            </li>
          ))}
          {names.length > 50 && <li className="text-subtle">…and {names.length - 50} more</li>}
        </ul>
      )}
    </Dialog>
  )
}
