/**
 * The VM creation wizard's state, validation and request body, kept free of React so the
 * rules can be unit-tested. Inputs are strings (what the fields hold); `validateWizard`
 * answers `{fieldKey: sentence}` with keys like `name`, `disks.1.size_gib`, `nics.0.model`,
 * and `stepOf` says which step shows a field.
 */
import type { BootDevice, CreateVmBody, DiskBus, Firmware, Machine, NicModel } from '../../../lib/api/types'

export type StepKey = 'general' | 'source' | 'hardware' | 'disks' | 'network' | 'cloud-init' | 'review'

export const STEPS: { key: StepKey; label: string }[] = [
  { key: 'general', label: 'Name & placement' },
  { key: 'source', label: 'Source' },
  { key: 'hardware', label: 'CPU & memory' },
  { key: 'disks', label: 'Disks' },
  { key: 'network', label: 'Network' },
  { key: 'cloud-init', label: 'Cloud-init' },
  { key: 'review', label: 'Review' },
]

export interface WizardDisk {
  size_gib: string
  bus: DiskBus
  pool_id: string
}

export interface WizardNic {
  network_id: string
  model: NicModel
}

export interface WizardState {
  name: string
  description: string
  /** '' = let the scheduler choose. */
  host_id: string
  source: 'blank' | 'template'
  template_id: string
  linked: boolean
  vcpus: string
  memory_mib: string
  /** '' = no hot-plug headroom. */
  max_vcpus: string
  max_memory_mib: string
  firmware: Firmware
  machine: Machine
  boot_order: BootDevice[]
  disks: WizardDisk[]
  nics: WizardNic[]
  cloud_init: boolean
  user_data: string
  meta_data: string
  network_config: string
  start: boolean
  /** HA protection: restart on another host when this one fails (docs/ha.md). */
  ha_enabled: boolean
  /** 0–1000 as typed; higher restarts first, 0 = the cluster's default. */
  ha_priority: string
}

export const NEW_DISK: WizardDisk = { size_gib: '10', bus: 'virtio', pool_id: 'default' }
export const NEW_NIC: WizardNic = { network_id: 'default', model: 'virtio' }

export function initialWizard(): WizardState {
  return {
    name: '',
    description: '',
    host_id: '',
    source: 'blank',
    template_id: '',
    linked: false,
    vcpus: '2',
    memory_mib: '2048',
    max_vcpus: '',
    max_memory_mib: '',
    firmware: 'bios',
    machine: 'pc',
    boot_order: ['hd'],
    disks: [{ ...NEW_DISK, size_gib: '20' }],
    nics: [{ ...NEW_NIC }],
    cloud_init: false,
    user_data: '#cloud-config\n',
    meta_data: '',
    network_config: '',
    start: true,
    ha_enabled: false,
    ha_priority: '0',
  }
}

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
export const MAX_VCPUS = 512
export const MAX_MEMORY_MIB = 16 * 1024 * 1024
export const MAX_DISK_GIB = 65536
export const MAX_DISKS = 16
export const MAX_NICS = 16
export const MAX_HA_PRIORITY = 1000
/** Largest cloud-init documents the API accepts, in characters. */
export const MAX_CLOUD_INIT = { user_data: 32768, meta_data: 8192, network_config: 8192 } as const
const NETWORK_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

/** A whole number in [lo, hi] written in `s`, or null. */
export function wholeIn(s: string, lo: number, hi: number): number | null {
  const t = s.trim()
  if (!/^\d+$/.test(t)) return null
  const n = Number(t)
  return n >= lo && n <= hi ? n : null
}

export function validateWizard(s: WizardState): Record<string, string> {
  const e: Record<string, string> = {}
  const name = s.name.trim()
  if (!name) e.name = 'Give the VM a name.'
  else if (!NAME_RE.test(name)) e.name = 'Use letters, digits, dots, dashes or underscores (max 63), starting with a letter or digit.'
  if (s.description.length > 1024) e.description = 'At most 1024 characters.'

  if (s.ha_enabled && wholeIn(s.ha_priority, 0, MAX_HA_PRIORITY) === null) e.ha_priority = `A whole number between 0 and ${MAX_HA_PRIORITY}.`

  if (s.source === 'template' && !s.template_id) e.template_id = 'Choose a template, or start from a blank VM.'

  const vcpus = wholeIn(s.vcpus, 1, MAX_VCPUS)
  if (vcpus === null) e.vcpus = `A whole number between 1 and ${MAX_VCPUS}.`
  const mem = wholeIn(s.memory_mib, 16, MAX_MEMORY_MIB)
  if (mem === null) e.memory_mib = 'Whole MiB, at least 16.'
  if (s.max_vcpus.trim()) {
    const m = wholeIn(s.max_vcpus, 1, MAX_VCPUS)
    if (m === null) e.max_vcpus = `A whole number between 1 and ${MAX_VCPUS}, or empty.`
    else if (vcpus !== null && m < vcpus) e.max_vcpus = 'At least the vCPUs the VM starts with.'
  }
  if (s.max_memory_mib.trim()) {
    const m = wholeIn(s.max_memory_mib, 16, MAX_MEMORY_MIB)
    if (m === null) e.max_memory_mib = 'Whole MiB, at least 16, or empty.'
    else if (mem !== null && m < mem) e.max_memory_mib = 'At least the memory the VM starts with.'
  }
  if (!s.boot_order.length) e.boot_order = 'Boot from at least one device.'

  if (s.source === 'blank') {
    if (s.disks.length > MAX_DISKS) e.disks = `At most ${MAX_DISKS} disks.`
    s.disks.forEach((d, i) => {
      if (wholeIn(d.size_gib, 1, MAX_DISK_GIB) === null) e[`disks.${i}.size_gib`] = `Whole GiB between 1 and ${MAX_DISK_GIB}.`
      if (!d.pool_id.trim()) e[`disks.${i}.pool_id`] = 'Choose a storage pool ("default" is the host\'s own).'
    })
    if (s.boot_order.includes('hd') && s.boot_order.length === 1 && s.disks.length === 0) e.disks = 'The VM boots from disk: add a disk, or boot from the network.'
  }
  if (s.source === 'blank') {
    if (s.nics.length > MAX_NICS) e.nics = `At most ${MAX_NICS} NICs.`
    s.nics.forEach((n, i) => {
      if (!NETWORK_RE.test(n.network_id.trim())) e[`nics.${i}.network_id`] = 'Choose a network ("default" is the host\'s own).'
    })
  }

  if (s.cloud_init) {
    const ud = s.user_data.trim()
    if (!ud && !s.meta_data.trim() && !s.network_config.trim()) e.user_data = 'Write user-data, meta-data or network-config, or turn cloud-init off.'
    else if (ud && !ud.startsWith('#')) e.user_data = 'User-data starts with a header line such as "#cloud-config" or "#!/bin/sh".'
    for (const k of ['user_data', 'meta_data', 'network_config'] as const) {
      if (s[k].length > MAX_CLOUD_INIT[k] && !e[k]) e[k] = `At most ${MAX_CLOUD_INIT[k].toLocaleString('en-US')} characters.`
    }
  }
  return e
}

/** The step that shows the field `key` (so an error there can be opened). */
export function stepOf(key: string): StepKey {
  const head = key.split('.')[0]
  switch (head) {
    case 'name':
    case 'description':
    case 'host_id':
    case 'ha_enabled':
    case 'ha_priority':
      return 'general'
    case 'template_id':
    case 'linked':
      return 'source'
    case 'vcpus':
    case 'memory_mib':
    case 'max_vcpus':
    case 'max_memory_mib':
    case 'firmware':
    case 'machine':
    case 'boot_order':
      return 'hardware'
    case 'disks':
      return 'disks'
    case 'nics':
      return 'network'
    case 'cloud_init':
    case 'user_data':
    case 'meta_data':
    case 'network_config':
      return 'cloud-init'
    default:
      return 'review'
  }
}

/** Errors that belong to one step. */
export function errorsOfStep(errors: Record<string, string>, step: StepKey): string[] {
  return Object.keys(errors).filter((k) => stepOf(k) === step)
}

/**
 * The field a server problem names, from the body decoder's path (`… at \`$.disks[1].size_gib\``)
 * or a `field`/`pointer` member, as a wizard key (`disks.1.size_gib`; `cloud_init.user_data`
 * becomes `user_data`).
 */
export function fieldOfProblem(problem: Record<string, unknown> | null | undefined, detail: string): string | undefined {
  let path: string | undefined
  for (const k of ['field', 'pointer', 'path']) {
    const v = problem?.[k]
    if (typeof v === 'string' && v) path = v
  }
  if (!path) {
    const m = /`?\$\.([A-Za-z0-9_.[\]]+)`?/.exec(detail)
    if (m) path = m[1]
  }
  if (!path) return undefined
  const key = path
    .replace(/^[#/$.]+/, '')
    .replace(/\[(\d+)\]/g, '.$1')
    .replace(/\//g, '.')
    .replace(/^cloud_init\./, '')
  return key || undefined
}

/** The `POST /api/v1/vms` body for a valid state. */
export function toBody(s: WizardState): CreateVmBody {
  const body: CreateVmBody = {
    name: s.name.trim(),
    vcpus: Number(s.vcpus),
    memory_mib: Number(s.memory_mib),
    start: s.start,
    firmware: s.firmware,
    machine: s.machine,
    boot_order: s.boot_order,
  }
  if (s.description.trim()) body.description = s.description.trim()
  if (s.max_vcpus.trim()) body.max_vcpus = Number(s.max_vcpus)
  if (s.max_memory_mib.trim()) body.max_memory_mib = Number(s.max_memory_mib)
  // A VM made from a template gets the template's disks and NICs, on the template's host.
  if (s.source === 'template') {
    body.template_id = s.template_id
    body.linked = s.linked
  } else {
    if (s.host_id) body.host_id = s.host_id
    body.disks = s.disks.map((d) => ({ size_gib: Number(d.size_gib), bus: d.bus, pool_id: d.pool_id.trim() }))
    body.nics = s.nics.map((n) => ({ network_id: n.network_id.trim(), model: n.model }))
  }
  if (s.ha_enabled) {
    body.ha_enabled = true
    body.ha_priority = Number(s.ha_priority)
  }
  if (s.cloud_init) body.cloud_init = { user_data: s.user_data, meta_data: s.meta_data, network_config: s.network_config }
  return body
}
