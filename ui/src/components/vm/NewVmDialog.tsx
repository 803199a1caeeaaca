import { useState } from 'react'
import { useNavigate } from 'react-router'
import { Dialog } from '../ui/Dialog'
import { Button } from '../ui/Button'
import { InlineError } from '../ui/Feedback'
import { useCreateVm } from '../../lib/api/hooks'
import { toast } from '../../stores/ui'

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
const MAX_MEMORY_MIB = 16 * 1024 * 1024

export function validateNewVm(v: { name: string; vcpus: string; memory: string }): Record<string, string> {
  const e: Record<string, string> = {}
  if (!v.name.trim()) e.name = 'Give the VM a name.'
  else if (!NAME_RE.test(v.name.trim())) e.name = 'Use letters, digits, dots, dashes or underscores (max 63), starting with a letter or digit.'
  const c = Number(v.vcpus)
  if (!v.vcpus.trim() || !Number.isInteger(c) || c < 1 || c > 512) e.vcpus = 'A whole number between 1 and 512.'
  const m = Number(v.memory)
  if (!v.memory.trim() || !Number.isInteger(m) || m < 16 || m > MAX_MEMORY_MIB) e.memory = 'Whole MiB, at least 16.'
  return e
}

export function NewVmDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [name, setName] = useState('')
  const [vcpus, setVcpus] = useState('2')
  const [memory, setMemory] = useState('2048')
  const [description, setDescription] = useState('')
  const [start, setStart] = useState(true)
  const [touched, setTouched] = useState(false)
  const create = useCreateVm()
  const nav = useNavigate()
  const errors = validateNewVm({ name, vcpus, memory })
  const invalid = Object.keys(errors).length > 0

  const close = () => {
    create.reset()
    setTouched(false)
    onClose()
  }

  const submit = (e: React.FormEvent) => {
    e.preventDefault()
    setTouched(true)
    if (invalid) return
    create.mutate(
      { name: name.trim(), vcpus: Number(vcpus), memory_mib: Number(memory), start, ...(description.trim() ? { description: description.trim() } : {}) },
      {
        onSuccess: (res) => {
          toast.success(`Creating ${name.trim()}`, start ? 'The VM will start when it is ready.' : undefined, { to: `/tasks/${res.task_id}`, label: 'View task' })
          setName('')
          setDescription('')
          close()
          nav(`/vms/${res.vm_id}`)
        },
      },
    )
  }

  const input = 'h-9 w-full rounded-md border border-border bg-surface-2 px-3 text-sm focus:border-accent focus:outline-none'
  const err = (k: string) => touched && errors[k] && <p className="mt-1 text-xs text-bad">{errors[k]}</p>
  return (
    <Dialog
      open={open}
      onClose={close}
      title="New virtual machine"
      description="The scheduler picks a connected host with room for it."
      footer={
        <>
          <Button onClick={close}>Cancel</Button>
          <Button variant="primary" type="submit" form="new-vm-form" loading={create.isPending}>
            Create VM
          </Button>
        </>
      }
    >
      <form id="new-vm-form" onSubmit={submit} className="flex flex-col gap-4" noValidate>
        <label className="block">
          <span className="mb-1 block text-sm font-medium">Name</span>
          <input className={input} value={name} onChange={(e) => setName(e.target.value)} placeholder="web-01" autoComplete="off" name="name" data-autofocus />
          {err('name')}
        </label>
        <div className="grid grid-cols-2 gap-4">
          <label className="block">
            <span className="mb-1 block text-sm font-medium">vCPUs</span>
            <input className={input} type="number" min={1} max={512} value={vcpus} onChange={(e) => setVcpus(e.target.value)} name="vcpus" />
            {err('vcpus')}
          </label>
          <label className="block">
            <span className="mb-1 block text-sm font-medium">Memory (MiB)</span>
            <input className={input} type="number" min={16} step={256} value={memory} onChange={(e) => setMemory(e.target.value)} name="memory_mib" />
            {err('memory')}
          </label>
        </div>
        <label className="block">
          <span className="mb-1 block text-sm font-medium">
            Description <span className="font-normal text-subtle">(optional)</span>
          </span>
          <input className={input} value={description} onChange={(e) => setDescription(e.target.value)} name="description" />
        </label>
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={start} onChange={(e) => setStart(e.target.checked)} className="size-4 accent-[var(--lq-accent)]" name="start" />
          Start the VM once it is created
        </label>
        {create.isError && <InlineError error={create.error} />}
        <button type="submit" hidden />
      </form>
    </Dialog>
  )
}
