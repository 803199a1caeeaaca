/** The panels of the VM creation wizard; each edits a slice of `WizardState`. */
import { Plus, Trash2 } from 'lucide-react'
import type { ReactNode } from 'react'
import { Button } from '../../ui/Button'
import { Checkbox, FormField, inputClass, selectClass, textareaClass } from '../../ui/Form'
import { DISK_BUSES, NIC_MODELS, type BootDevice, type Host, type Vm } from '../../../lib/api/types'
import { formatMiB } from '../../../lib/format'
import type { Network } from '../../../lib/api/networks'
import type { StoragePool } from '../../../lib/api/storage'
import { NetworkSelect, PoolSelect, poolsNeedingPin } from '../ResourcePickers'
import { useFleetDefaultId } from '../../../lib/api/settings'
import { MAX_DISKS, MAX_HA_PRIORITY, MAX_NICS, NEW_DISK, NEW_NIC, STEPS, type WizardState } from './model'

export interface StepProps {
  s: WizardState
  set: (patch: Partial<WizardState>) => void
  /** The error of a field, when it should be shown. */
  err: (key: string) => string | undefined
}

const invalid = (e: string | undefined) => (e ? { 'aria-invalid': true as const } : {})

export function GeneralStep({ s, set, err, hosts }: StepProps & { hosts: Host[] | undefined }) {
  return (
    <div className="flex flex-col gap-4">
      <FormField label="Name" error={err('name')} hint="Letters, digits, '.', '_' or '-'; up to 63.">
        <input className={inputClass} value={s.name} onChange={(e) => set({ name: e.target.value })} placeholder="web-01" autoComplete="off" name="name" data-autofocus {...invalid(err('name'))} />
      </FormField>
      <FormField label={<>Description <span className="font-normal text-subtle">(optional)</span></>} error={err('description')}>
        <input className={inputClass} value={s.description} onChange={(e) => set({ description: e.target.value })} name="description" />
      </FormField>
      <FormField
        label="Host"
        error={err('host_id')}
        hint={s.source === 'template' ? 'A VM made from a template runs on the template\u2019s host.' : 'Automatic lets the scheduler pick a connected host with room for the VM.'}
      >
        <select className={selectClass} value={s.source === 'template' ? '' : s.host_id} onChange={(e) => set({ host_id: e.target.value })} name="host_id" disabled={s.source === 'template'}>
          <option value="">Automatic (scheduler)</option>
          {hosts?.map((h) => (
            <option key={h.id} value={h.id} disabled={h.state !== 'connected'}>
              {h.name} — {h.allocated_vcpus}/{h.cpus} vCPUs, {formatMiB(h.allocated_memory_mib)}/{formatMiB(h.memory_mib)}
              {h.state !== 'connected' ? ` (${h.state})` : ''}
            </option>
          ))}
        </select>
      </FormField>
      <div className="flex flex-col gap-2 rounded-lg border border-border p-3">
        <Checkbox checked={s.ha_enabled} onChange={(ha_enabled) => set({ ha_enabled })} name="ha_enabled" hint="When its host fails, the VM is restarted on another host of its cluster.">
          High availability
        </Checkbox>
        {s.ha_enabled && (
          <FormField label="Restart priority" error={err('ha_priority')} hint={`0–${MAX_HA_PRIORITY}; higher restarts first; 0 takes the cluster’s default.`} className="max-w-xs">
            <input className={inputClass} type="number" min={0} max={MAX_HA_PRIORITY} value={s.ha_priority} onChange={(e) => set({ ha_priority: e.target.value })} name="ha_priority" {...invalid(err('ha_priority'))} />
          </FormField>
        )}
      </div>
    </div>
  )
}

export function SourceStep({ s, set, err, templates, loading }: StepProps & { templates: Vm[]; loading: boolean }) {
  const pick = (id: string) => {
    const t = templates.find((x) => x.id === id)
    set({ template_id: id, ...(t ? { vcpus: String(t.vcpus), memory_mib: String(t.memory_mib) } : {}) })
  }
  return (
    <div className="flex flex-col gap-4">
      <fieldset className="grid gap-3 sm:grid-cols-2">
        <legend className="sr-only">Source</legend>
        <SourceCard checked={s.source === 'blank'} onChange={() => set({ source: 'blank' })} title="Blank VM" body="Empty disks you define in the next steps." />
        <SourceCard
          checked={s.source === 'template'}
          onChange={() => set({ source: 'template' })}
          title="From a template"
          body={templates.length ? `A copy of one of ${templates.length} template${templates.length === 1 ? '' : 's'}, with its disks.` : loading ? 'Loading templates…' : 'No templates yet: convert a stopped VM to a template first.'}
          disabled={!loading && !templates.length}
        />
      </fieldset>
      {s.source === 'template' && (
        <>
          <FormField label="Template" error={err('template_id')}>
            <select className={selectClass} value={s.template_id} onChange={(e) => pick(e.target.value)} name="template_id" {...invalid(err('template_id'))}>
              <option value="">Choose a template…</option>
              {templates.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name} — {t.vcpus} vCPUs, {formatMiB(t.memory_mib)}
                  {t.disks?.length ? `, ${t.disks.length} disk${t.disks.length === 1 ? '' : 's'}` : ''}
                </option>
              ))}
            </select>
          </FormField>
          <Checkbox checked={s.linked} onChange={(linked) => set({ linked })} name="linked" hint="The new disks are thin copies backed by the template's (fast, small; the template must stay). Off: full, independent copies.">
            Linked clone
          </Checkbox>
        </>
      )}
    </div>
  )
}

function SourceCard({ checked, onChange, title, body, disabled }: { checked: boolean; onChange: () => void; title: string; body: string; disabled?: boolean }) {
  return (
    <label className={`flex cursor-pointer gap-3 rounded-lg border p-3 ${checked ? 'border-accent bg-accent-soft' : 'border-border bg-surface-2 hover:border-border-strong'} ${disabled ? 'cursor-not-allowed opacity-50' : ''}`}>
      <input type="radio" name="source" checked={checked} onChange={onChange} disabled={disabled} className="mt-1 accent-[var(--lq-accent)]" />
      <span>
        <span className="block text-sm font-medium">{title}</span>
        <span className="block text-xs text-muted">{body}</span>
      </span>
    </label>
  )
}

const BOOT_LABEL: Record<BootDevice, string> = { hd: 'Disk', network: 'Network (PXE)', cdrom: 'CD-ROM' }

export function HardwareStep({ s, set, err }: StepProps) {
  const toggleBoot = (d: BootDevice, on: boolean) => set({ boot_order: on ? [...s.boot_order, d] : s.boot_order.filter((x) => x !== d) })
  return (
    <div className="flex flex-col gap-4">
      <div className="grid gap-4 sm:grid-cols-2">
        <FormField label="vCPUs" error={err('vcpus')}>
          <input className={inputClass} type="number" min={1} max={512} value={s.vcpus} onChange={(e) => set({ vcpus: e.target.value })} name="vcpus" {...invalid(err('vcpus'))} />
        </FormField>
        <FormField label="Memory (MiB)" error={err('memory_mib')}>
          <input className={inputClass} type="number" min={16} step={256} value={s.memory_mib} onChange={(e) => set({ memory_mib: e.target.value })} name="memory_mib" {...invalid(err('memory_mib'))} />
        </FormField>
        <FormField label="Max vCPUs (hot-plug)" error={err('max_vcpus')} hint="Empty: no CPU hot-plug while running.">
          <input className={inputClass} type="number" min={1} max={512} value={s.max_vcpus} onChange={(e) => set({ max_vcpus: e.target.value })} name="max_vcpus" placeholder="—" {...invalid(err('max_vcpus'))} />
        </FormField>
        <FormField label="Max memory (MiB, hot-plug)" error={err('max_memory_mib')} hint="Empty: no memory hot-plug while running.">
          <input className={inputClass} type="number" min={16} step={256} value={s.max_memory_mib} onChange={(e) => set({ max_memory_mib: e.target.value })} name="max_memory_mib" placeholder="—" {...invalid(err('max_memory_mib'))} />
        </FormField>
        <FormField label="Firmware">
          <select className={selectClass} value={s.firmware} onChange={(e) => set({ firmware: e.target.value as WizardState['firmware'] })} name="firmware">
            <option value="bios">BIOS (SeaBIOS)</option>
            <option value="uefi">UEFI (OVMF)</option>
          </select>
        </FormField>
        <FormField label="Machine type">
          <select className={selectClass} value={s.machine} onChange={(e) => set({ machine: e.target.value as WizardState['machine'] })} name="machine">
            <option value="pc">pc (i440FX)</option>
            <option value="q35">q35</option>
          </select>
        </FormField>
      </div>
      <fieldset>
        <legend className="mb-1 text-sm font-medium">Boot from</legend>
        <div className="flex flex-wrap gap-4">
          {(['hd', 'network', 'cdrom'] as BootDevice[]).map((d) => (
            <Checkbox key={d} checked={s.boot_order.includes(d)} onChange={(on) => toggleBoot(d, on)}>
              {BOOT_LABEL[d]}
              {s.boot_order.includes(d) && <span className="ml-1 text-xs text-subtle">#{s.boot_order.indexOf(d) + 1}</span>}
            </Checkbox>
          ))}
        </div>
        {err('boot_order') && <p className="mt-1 text-xs text-bad">{err('boot_order')}</p>}
      </fieldset>
    </div>
  )
}

function RowTable({ head, children }: { head: string[]; children: ReactNode }) {
  return (
    <table className="w-full text-sm">
      <thead className="text-left text-[11px] tracking-wide text-subtle uppercase">
        <tr>
          {head.map((h) => (
            <th key={h} className="pr-3 pb-1 font-medium">
              {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  )
}

export function DisksStep({ s, set, err, template, pools, hosts }: StepProps & { template: Vm | undefined; pools: StoragePool[] | undefined; hosts: Host[] | undefined }) {
  const fleetPool = useFleetDefaultId('default_pool_id')
  if (s.source === 'template') {
    return (
      <div className="text-sm text-muted" data-testid="template-disks">
        <p className="mb-2">The disks are {s.linked ? 'linked clones' : 'full copies'} of the template&apos;s; add more on the VM&apos;s Disks tab once it exists.</p>
        {template?.disks?.length ? (
          <ul className="list-inside list-disc">
            {template.disks.map((d) => (
              <li key={d.disk_id}>
                {d.disk_id}: {d.size_gib} GiB, {d.bus}, pool {d.pool_id}
              </li>
            ))}
          </ul>
        ) : null}
      </div>
    )
  }
  const update = (i: number, patch: Partial<WizardState['disks'][number]>) => set({ disks: s.disks.map((d, j) => (j === i ? { ...d, ...patch } : d)) })
  const connected = (hosts ?? []).filter((h) => h.state === 'connected').length
  const pin = s.host_id ? [] : poolsNeedingPin(s.disks.map((d) => d.pool_id), pools, connected)
  return (
    <div className="flex flex-col gap-3">
      {s.disks.length > 0 && (
        <RowTable head={['Disk', 'Size (GiB)', 'Bus', 'Pool', '']}>
          {s.disks.map((d, i) => (
            <tr key={i} className="align-top" data-testid={`disk-row-${i}`}>
              <td className="py-1 pr-3 pt-3 font-mono text-xs">
                disk{i}
                {i === 0 && <span className="ml-1 text-subtle">(boot)</span>}
              </td>
              <td className="py-1 pr-3">
                <input className={inputClass} type="number" min={1} value={d.size_gib} aria-label={`Disk ${i} size (GiB)`} onChange={(e) => update(i, { size_gib: e.target.value })} {...invalid(err(`disks.${i}.size_gib`))} />
                {err(`disks.${i}.size_gib`) && <p className="mt-1 text-xs text-bad">{err(`disks.${i}.size_gib`)}</p>}
              </td>
              <td className="py-1 pr-3">
                <select className={selectClass} value={d.bus} aria-label={`Disk ${i} bus`} onChange={(e) => update(i, { bus: e.target.value as typeof d.bus })}>
                  {DISK_BUSES.map((b) => (
                    <option key={b}>{b}</option>
                  ))}
                </select>
              </td>
              <td className="py-1 pr-3">
                <PoolSelect value={d.pool_id} onChange={(pool_id) => update(i, { pool_id })} pools={pools} hostId={s.host_id} aria-label={`Disk ${i} pool`} {...invalid(err(`disks.${i}.pool_id`))} />
                {err(`disks.${i}.pool_id`) && <p className="mt-1 text-xs text-bad">{err(`disks.${i}.pool_id`)}</p>}
              </td>
              <td className="py-1">
                <Button variant="ghost" aria-label={`Remove disk ${i}`} icon={<Trash2 className="size-4" />} onClick={() => set({ disks: s.disks.filter((_, j) => j !== i) })} />
              </td>
            </tr>
          ))}
        </RowTable>
      )}
      {s.disks.length === 0 && <p className="text-sm text-muted">No disks: the VM can only boot from the network or a kernel.</p>}
      {pin.map((p) => (
        <p key={p.name} className="text-xs text-warn" data-testid="pool-pin-hint">
          Pool {p.name} is on {p.hosts.join(', ')} only: pin the VM to {p.hosts.length === 1 ? 'that host' : 'one of them'} under Name &amp; placement, or the scheduler may place it where the pool is missing.
        </p>
      ))}
      {err('disks') && <p className="text-xs text-bad">{err('disks')}</p>}
      <div>
        <Button icon={<Plus className="size-4" />} disabled={s.disks.length >= MAX_DISKS} onClick={() => set({ disks: [...s.disks, { ...NEW_DISK, pool_id: fleetPool }] })}>
          Add disk
        </Button>
      </div>
    </div>
  )
}

export function NetworkStep({ s, set, err, template, networks }: StepProps & { template?: Vm; networks: Network[] | undefined }) {
  const fleetNetwork = useFleetDefaultId('default_network_id')
  if (s.source === 'template') {
    return (
      <div className="text-sm text-muted" data-testid="template-nics">
        <p className="mb-2">The VM gets the template&apos;s NICs, each with a new MAC address; change them on the VM&apos;s Network tab once it exists.</p>
        {template?.nics?.length ? (
          <ul className="list-inside list-disc">
            {template.nics.map((n) => (
              <li key={n.nic_id}>
                {n.nic_id}: network {n.network_id}, {n.model}
              </li>
            ))}
          </ul>
        ) : null}
      </div>
    )
  }
  const update = (i: number, patch: Partial<WizardState['nics'][number]>) => set({ nics: s.nics.map((n, j) => (j === i ? { ...n, ...patch } : n)) })
  return (
    <div className="flex flex-col gap-3">
      {s.nics.length > 0 ? (
        <RowTable head={['NIC', 'Network', 'Model', '']}>
          {s.nics.map((n, i) => (
            <tr key={i} className="align-top" data-testid={`nic-row-${i}`}>
              <td className="py-1 pr-3 pt-3 font-mono text-xs">nic{i}</td>
              <td className="py-1 pr-3">
                <NetworkSelect value={n.network_id} onChange={(network_id) => update(i, { network_id })} networks={networks} hostId={s.host_id} aria-label={`NIC ${i} network`} {...invalid(err(`nics.${i}.network_id`))} />
                {err(`nics.${i}.network_id`) && <p className="mt-1 text-xs text-bad">{err(`nics.${i}.network_id`)}</p>}
              </td>
              <td className="py-1 pr-3">
                <select className={selectClass} value={n.model} aria-label={`NIC ${i} model`} onChange={(e) => update(i, { model: e.target.value as typeof n.model })}>
                  {NIC_MODELS.map((m) => (
                    <option key={m}>{m}</option>
                  ))}
                </select>
              </td>
              <td className="py-1">
                <Button variant="ghost" aria-label={`Remove NIC ${i}`} icon={<Trash2 className="size-4" />} onClick={() => set({ nics: s.nics.filter((_, j) => j !== i) })} />
              </td>
            </tr>
          ))}
        </RowTable>
      ) : (
        <p className="text-sm text-muted">No NICs: the VM has no network.</p>
      )}
      {err('nics') && <p className="text-xs text-bad">{err('nics')}</p>}
      <p className="text-xs text-subtle">Network &quot;default&quot; is the host&apos;s libvirt network of that name, or user-mode networking where the host has none; the others are the virtual networks of the Virtual networks page. MAC addresses are assigned by LimiQuantix and never change.</p>
      <div>
        <Button icon={<Plus className="size-4" />} disabled={s.nics.length >= MAX_NICS} onClick={() => set({ nics: [...s.nics, { ...NEW_NIC, network_id: fleetNetwork }] })}>
          Add NIC
        </Button>
      </div>
    </div>
  )
}

export function CloudInitStep({ s, set, err }: StepProps) {
  return (
    <div className="flex flex-col gap-4">
      <Checkbox checked={s.cloud_init} onChange={(cloud_init) => set({ cloud_init })} name="cloud_init" hint="Attached as a NoCloud seed (a CD-ROM labelled cidata) that cloud-init in the guest reads on first boot.">
        Configure the guest with cloud-init
      </Checkbox>
      {s.cloud_init && (
        <>
          <FormField label="User-data" error={err('user_data')}>
            <textarea className={textareaClass} rows={8} value={s.user_data} onChange={(e) => set({ user_data: e.target.value })} name="user_data" spellCheck={false} {...invalid(err('user_data'))} />
          </FormField>
          <FormField label="Meta-data" error={err('meta_data')} hint="Empty: instance-id and hostname come from the VM.">
            <textarea className={textareaClass} rows={3} value={s.meta_data} onChange={(e) => set({ meta_data: e.target.value })} name="meta_data" spellCheck={false} placeholder="local-hostname: web-01" {...invalid(err('meta_data'))} />
          </FormField>
          <FormField label="Network-config" error={err('network_config')} hint="Empty: DHCP on the first NIC.">
            <textarea className={textareaClass} rows={4} value={s.network_config} onChange={(e) => set({ network_config: e.target.value })} name="network_config" spellCheck={false} placeholder={'version: 2\nethernets: …'} {...invalid(err('network_config'))} />
          </FormField>
        </>
      )}
    </div>
  )
}

export function ReviewStep({
  s,
  set,
  hostName,
  templateName,
  errors,
  goTo,
  networkName = (id) => id,
  poolName = (id) => id,
}: StepProps & {
  hostName: string
  templateName: string
  errors: Record<string, string>
  goTo: (k: (typeof STEPS)[number]['key']) => void
  networkName?: (id: string) => string
  poolName?: (id: string) => string
}) {
  const row = (label: string, value: ReactNode, step: (typeof STEPS)[number]['key']) => (
    <div className="grid grid-cols-[10rem_1fr_auto] gap-3 border-b border-border/60 py-2 text-sm last:border-0">
      <dt className="text-muted">{label}</dt>
      <dd className="min-w-0 break-words">{value}</dd>
      <button type="button" className="text-xs text-accent hover:underline" onClick={() => goTo(step)}>
        Edit
      </button>
    </div>
  )
  const n = Object.keys(errors).length
  return (
    <div className="flex flex-col gap-4">
      <dl data-testid="wizard-summary">
        {row('Name', s.name || <span className="text-bad">missing</span>, 'general')}
        {row('Host', s.source === 'template' ? 'The template\u2019s host' : hostName, 'general')}
        {row('Source', s.source === 'blank' ? 'Blank VM' : `${templateName} (${s.linked ? 'linked' : 'full'} clone)`, 'source')}
        {row('CPU / memory', `${s.vcpus} vCPUs${s.max_vcpus ? ` (max ${s.max_vcpus})` : ''}, ${s.memory_mib} MiB${s.max_memory_mib ? ` (max ${s.max_memory_mib})` : ''}`, 'hardware')}
        {row('Firmware / machine', `${s.firmware.toUpperCase()}, ${s.machine}, boot ${s.boot_order.join(' → ') || '—'}`, 'hardware')}
        {row('Disks', s.source === 'template' ? 'From the template' : s.disks.length ? s.disks.map((d, i) => `disk${i} ${d.size_gib} GiB ${d.bus}${d.pool_id === 'default' ? '' : ` (pool ${poolName(d.pool_id)})`}`).join(', ') : 'None', 'disks')}
        {row('Network', s.source === 'template' ? 'From the template' : s.nics.length ? s.nics.map((x, i) => `nic${i} → ${networkName(x.network_id)} (${x.model})`).join(', ') : 'None', 'network')}
        {row('High availability', s.ha_enabled ? `On, priority ${s.ha_priority}` : 'Off', 'general')}
        {row('Cloud-init', s.cloud_init ? 'NoCloud seed attached' : 'Off', 'cloud-init')}
      </dl>
      {n > 0 && (
        <p role="alert" className="text-sm text-bad">
          {n} field{n === 1 ? ' needs' : 's need'} attention before the VM can be created.
        </p>
      )}
      <Checkbox checked={s.start} onChange={(start) => set({ start })} name="start">
        Start the VM after it is created
      </Checkbox>
    </div>
  )
}
