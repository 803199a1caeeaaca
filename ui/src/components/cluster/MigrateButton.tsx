import { useState } from 'react'
import { MoveRight } from 'lucide-react'
import { Button } from '../ui/Button'
import { Dialog } from '../ui/Dialog'
import { FormField, ProblemBox, selectClass } from '../ui/Form'
import { useHosts } from '../../lib/api/hooks'
import { useCanOnVm } from '../../lib/api/scope'
import { clusters, useClusterChange } from '../../lib/api/clusters'
import type { Vm } from '../../lib/api/types'

/** Migrate a running (live) or stopped (cold) VM, to a chosen host or wherever placement says. */
export function MigrateButton({ vm }: { vm: Vm }) {
  const canAct = useCanOnVm('vm.power', vm)
  const [open, setOpen] = useState(false)
  const [target, setTarget] = useState('')
  const hosts = useHosts({ limit: 200 })
  const migrate = useClusterChange(clusters.migrate, 'Migration started')
  if (!canAct || vm.template || !['running', 'stopped'].includes(vm.state)) return null
  const choices = (hosts.data?.items ?? []).filter((h) => h.id !== vm.host_id && h.state === 'connected')
  return (
    <>
      <Button icon={<MoveRight className="size-4" />} onClick={() => setOpen(true)}>
        Migrate
      </Button>
      <Dialog
        open={open}
        onClose={() => { migrate.reset(); setOpen(false) }}
        title={`Migrate ${vm.name}`}
        description={vm.state === 'running' ? 'The VM keeps running while it moves.' : 'The stopped VM is defined on the new host.'}
        footer={
          <>
            <Button variant="ghost" onClick={() => setOpen(false)}>Cancel</Button>
            <Button
              variant="primary"
              loading={migrate.isPending}
              onClick={() => migrate.mutate({ vmId: vm.id, hostId: target || null }, { onSuccess: () => setOpen(false) })}
            >
              Migrate
            </Button>
          </>
        }
      >
        <FormField label="Destination host" hint="Automatic: placement chooses (capacity, rules, cluster).">
          <select aria-label="Destination host" className={selectClass} value={target} onChange={(e) => setTarget(e.target.value)}>
            <option value="">Automatic</option>
            {choices.map((h) => (
              <option key={h.id} value={h.id}>
                {h.name} — {h.allocated_vcpus}/{h.cpus * h.cpu_overcommit} vCPUs, {h.vm_count} VMs
              </option>
            ))}
          </select>
        </FormField>
        {migrate.isError && <ProblemBox error={migrate.error} />}
      </Dialog>
    </>
  )
}
