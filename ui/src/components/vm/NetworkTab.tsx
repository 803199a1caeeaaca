/**
 * The Network tab: the VM's NICs (MAC, network, model, observed IP); attach a NIC, move one
 * to another network (its MAC stays), detach one.
 */
import { useState } from 'react'
import { ArrowRightLeft, Network, Plus, Unplug } from 'lucide-react'
import { lifecycle, useNics } from '../../lib/api/lifecycle'
import { NIC_MODELS, type NicModel, type Vm, type VmNic } from '../../lib/api/types'
import { Card } from '../ui/Card'
import { Button } from '../ui/Button'
import { EmptyState, ErrorState, Spinner } from '../ui/Feedback'
import { FormField, selectClass } from '../ui/Form'
import { CommandDialog } from './CommandDialog'
import { whyNot } from './lifecycleRules'
import { useCanOnVm } from '../../lib/api/scope'
import { useNetworks } from '../../lib/api/networks'
import { useFleetDefaultId } from '../../lib/api/settings'
import { NetworkSelect } from './ResourcePickers'

type Pending = { kind: 'attach' } | { kind: 'update' | 'detach'; nic: VmNic } | null
const NETWORK_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

export function NetworkTab({ vm, busy }: { vm: Vm; busy: boolean }) {
  const nics = useNics(vm)
  const [pending, setPending] = useState<Pending>(null)
  const canChange = useCanOnVm('vm.configure', vm)
  const whyAttach = whyNot('attach-nic', vm, busy)
  const whyUpdate = whyNot('update-nic', vm, busy)
  const whyDetach = whyNot('detach-nic', vm, busy)
  const items = nics.data ?? []
  const networks = useNetworks()
  const networkNames = new Map((networks.data?.items ?? []).map((n) => [n.id, n.name]))
  return (
    <Card
      title={`Network adapters${nics.data ? ` (${items.length})` : ''}`}
      actions={
        canChange && (
          <span title={whyAttach ?? 'Add a NIC'}>
            <Button size="sm" variant="primary" icon={<Plus className="size-3.5" />} disabled={!!whyAttach} onClick={() => setPending({ kind: 'attach' })}>
              Attach NIC
            </Button>
          </span>
        )
      }
      bodyClassName="p-0"
    >
      {nics.isPending ? (
        <Spinner label="Loading NICs…" />
      ) : nics.isError ? (
        <ErrorState error={nics.error} onRetry={() => nics.refetch()} title="Could not load NICs" />
      ) : items.length === 0 ? (
        <EmptyState icon={<Network className="size-5" />} title="No network adapters" />
      ) : (
        <table className="w-full text-sm" data-testid="nics">
          <thead className="border-b border-border text-left text-[11px] tracking-wide text-subtle uppercase">
            <tr>
              <th className="py-2 pr-3 pl-4 font-medium">NIC</th>
              <th className="py-2 pr-3 font-medium">MAC</th>
              <th className="py-2 pr-3 font-medium">Network</th>
              <th className="py-2 pr-3 font-medium">Model</th>
              <th className="py-2 pr-3 font-medium">IP address</th>
              <th className="py-2 pr-4" />
            </tr>
          </thead>
          <tbody>
            {items.map((n) => (
              <tr key={n.nic_id} data-nic-id={n.nic_id} className="border-b border-border/60 last:border-0">
                <td className="py-2 pr-3 pl-4 font-mono text-xs">{n.nic_id}</td>
                <td className="py-2 pr-3 font-mono text-xs">{n.mac}</td>
                <td className="py-2 pr-3" title={n.network_id}>
                  {networkNames.get(n.network_id) ?? n.network_id}
                </td>
                <td className="py-2 pr-3">{n.model}</td>
                <td className="py-2 pr-3 font-mono text-xs">{n.ip || <span className="font-sans text-subtle">{vm.state === 'running' ? 'not seen yet' : '—'}</span>}</td>
                <td className="py-2 pr-4 text-right">
                  {canChange && (
                    <div className="flex justify-end gap-1">
                      <span title={whyUpdate ?? 'Connect to another network'}>
                        <Button size="sm" icon={<ArrowRightLeft className="size-3.5" />} disabled={!!whyUpdate} onClick={() => setPending({ kind: 'update', nic: n })} aria-label={`Change network of ${n.nic_id}`}>
                          Network
                        </Button>
                      </span>
                      <span title={whyDetach ?? 'Remove the NIC'}>
                        <Button size="sm" variant="danger" icon={<Unplug className="size-3.5" />} disabled={!!whyDetach} onClick={() => setPending({ kind: 'detach', nic: n })} aria-label={`Detach ${n.nic_id}`}>
                          Detach
                        </Button>
                      </span>
                    </div>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {pending?.kind === 'attach' && <AttachNicDialog vm={vm} onClose={() => setPending(null)} />}
      {pending?.kind === 'update' && <ChangeNetworkDialog vm={vm} nic={pending.nic} onClose={() => setPending(null)} />}
      {pending?.kind === 'detach' && (
        <CommandDialog
          open
          onClose={() => setPending(null)}
          title={`Detach ${pending.nic.nic_id} from ${vm.name}?`}
          cta="Detach"
          danger
          spec={() => ({ doing: `Detaching ${pending.nic.nic_id} from ${vm.name}`, verb: `detach ${pending.nic.nic_id}`, run: () => lifecycle.detachNic(vm.id, pending.nic.nic_id) })}
        >
          <p className="text-sm text-muted">
            The guest loses the adapter <span className="font-mono">{pending.nic.mac}</span>
            {vm.state === 'running' ? ' at once' : ''}.
          </p>
        </CommandDialog>
      )}
    </Card>
  )
}

function AttachNicDialog({ vm, onClose }: { vm: Vm; onClose: () => void }) {
  const fleetNetwork = useFleetDefaultId('default_network_id')
  const [typedNetwork, setNetwork] = useState<string | null>(null)
  const network = typedNetwork ?? fleetNetwork
  const [model, setModel] = useState<NicModel>('virtio')
  const [touched, setTouched] = useState(false)
  const networks = useNetworks()
  const bad = !NETWORK_RE.test(network.trim())
  return (
    <CommandDialog
      open
      onClose={onClose}
      title={`Attach a NIC to ${vm.name}`}
      description="LimiQuantix assigns its MAC address."
      cta="Attach"
      spec={() => {
        setTouched(true)
        if (bad) return null
        return { doing: `Attaching a NIC to ${vm.name}`, verb: `attach a NIC to ${vm.name}`, run: () => lifecycle.attachNic(vm.id, { network_id: network.trim(), model }) }
      }}
    >
      <div className="grid grid-cols-2 gap-4">
        <FormField label="Network" error={touched && bad && 'Choose a network.'}>
          <NetworkSelect value={network} onChange={setNetwork} networks={networks.data?.items} hostId={vm.host_id ?? ''} name="network_id" />
        </FormField>
        <FormField label="Model">
          <select className={selectClass} value={model} onChange={(e) => setModel(e.target.value as NicModel)} name="model">
            {NIC_MODELS.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </FormField>
      </div>
    </CommandDialog>
  )
}

function ChangeNetworkDialog({ vm, nic, onClose }: { vm: Vm; nic: VmNic; onClose: () => void }) {
  const [network, setNetwork] = useState(nic.network_id)
  const [touched, setTouched] = useState(false)
  const networks = useNetworks()
  const bad = !NETWORK_RE.test(network.trim())
  return (
    <CommandDialog
      open
      onClose={onClose}
      title={`Change the network of ${nic.nic_id}`}
      description={`The MAC ${nic.mac} stays the same.`}
      cta="Change network"
      spec={() => {
        setTouched(true)
        if (bad) return null
        return { doing: `Moving ${nic.nic_id} of ${vm.name} to ${network.trim()}`, verb: `change the network of ${nic.nic_id}`, run: () => lifecycle.updateNic(vm.id, nic.nic_id, network.trim()) }
      }}
    >
      <FormField label="Network" error={touched && bad && 'Choose a network.'}>
        <NetworkSelect value={network} onChange={setNetwork} networks={networks.data?.items} hostId={vm.host_id ?? ''} name="network_id" />
      </FormField>
    </CommandDialog>
  )
}
