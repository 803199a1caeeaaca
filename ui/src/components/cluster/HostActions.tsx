import { useState } from 'react'
import { Wrench } from 'lucide-react'
import { Button } from '../ui/Button'
import { Dialog } from '../ui/Dialog'
import { ProblemBox } from '../ui/Form'
import { useCan } from '../../lib/api/security'
import { clusters, useClusterChange } from '../../lib/api/clusters'
import type { Host } from '../../lib/api/types'

/**
 * Enter / exit maintenance for one host. Entering moves every running VM away live and
 * re-homes stopped ones; the API refuses (409, with the VMs that cannot fit) before anything
 * happens, and the refusal is shown in the dialog.
 */
export function HostMaintenanceButton({ host }: { host: Host }) {
  const canAct = useCan('host.maintenance', { clusterId: host.cluster_id })
  const [open, setOpen] = useState(false)
  const enter = useClusterChange(clusters.enterMaintenance, 'Entering maintenance: VMs are being moved away')
  const exit = useClusterChange(clusters.exitMaintenance, 'Host left maintenance')
  if (!canAct) return null
  if (host.state === 'maintenance') {
    return (
      <Button icon={<Wrench className="size-4" />} loading={exit.isPending} onClick={() => exit.mutate(host.id)}>
        Exit maintenance
      </Button>
    )
  }
  return (
    <>
      <Button icon={<Wrench className="size-4" />} disabled={host.state !== 'connected'} onClick={() => setOpen(true)}>
        Enter maintenance
      </Button>
      <Dialog
        open={open}
        onClose={() => { enter.reset(); setOpen(false) }}
        title={`Enter maintenance on ${host.name}?`}
        description="No new VM is placed on it. Running VMs migrate live to other hosts; stopped VMs are re-homed; templates and VMs in error stay."
        footer={
          <>
            <Button variant="ghost" onClick={() => setOpen(false)}>Cancel</Button>
            <Button
              variant="primary"
              loading={enter.isPending}
              onClick={() => enter.mutate(host.id, { onSuccess: () => setOpen(false) })}
            >
              Enter maintenance
            </Button>
          </>
        }
      >
        <p className="text-sm text-muted">
          {host.vm_count} VM{host.vm_count === 1 ? '' : 's'} on this host. Progress per VM appears in Recent Tasks.
        </p>
        {enter.isError && <ProblemBox error={enter.error} />}
      </Dialog>
    </>
  )
}
