/**
 * A dialog that sends one VM command: its form, a submit button that shows progress, and
 * the server's problem inline (the dialog stays open so the values can be corrected).
 */
import type { ReactNode } from 'react'
import { Dialog } from '../ui/Dialog'
import { Button } from '../ui/Button'
import { ProblemBox } from '../ui/Form'
import { useVmCommand, type CommandSpec } from '../../lib/api/lifecycle'
import type { CommandAccepted } from '../../lib/api/types'

export interface CommandDialogProps {
  open: boolean
  onClose: () => void
  title: ReactNode
  description?: ReactNode
  cta: string
  danger?: boolean
  /** The command to send, or null while the form is not valid (errors are shown by the form). */
  spec: () => CommandSpec | null
  onDone?: (res: CommandAccepted) => void
  children?: ReactNode
}

export function CommandDialog({ open, onClose, title, description, cta, danger, spec, onDone, children }: CommandDialogProps) {
  const cmd = useVmCommand({ toastErrors: false })
  const close = () => {
    cmd.reset()
    onClose()
  }
  const submit = (e: React.FormEvent) => {
    e.preventDefault()
    const s = spec()
    if (!s) return
    cmd.mutate(s, {
      onSuccess: (res) => {
        close()
        onDone?.(res)
      },
    })
  }
  if (!open) return null
  return (
    <Dialog
      open
      onClose={close}
      title={title}
      description={description}
      footer={
        <>
          <Button onClick={close}>Cancel</Button>
          <Button variant={danger ? 'danger' : 'primary'} type="submit" form="command-dialog-form" loading={cmd.isPending} data-autofocus={children ? undefined : true}>
            {cta}
          </Button>
        </>
      }
    >
      <form id="command-dialog-form" onSubmit={submit} noValidate className="flex flex-col gap-4">
        {children}
        {cmd.isError && <ProblemBox error={cmd.error} />}
        <button type="submit" hidden />
      </form>
    </Dialog>
  )
}
