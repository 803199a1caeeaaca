/**
 * `/vms/new`: the VM creation wizard. Seven steps (name & placement, source, CPU & memory,
 * disks, network, cloud-init, review); every step is reachable from the step list, errors
 * are shown inline and mark their step, and a problem from the server is shown as written
 * with the field it names. On success the new VM's page opens and shows its task live.
 */
import { useMemo, useState } from 'react'
import { Link, useNavigate } from 'react-router'
import { Check, ChevronLeft, ChevronRight, MonitorCog } from 'lucide-react'
import { Card, PageHeader } from '../components/ui/Card'
import { Button } from '../components/ui/Button'
import { ProblemBox } from '../components/ui/Form'
import { useCreateVm, useHosts, useVms } from '../lib/api/hooks'
import { useNetworks } from '../lib/api/networks'
import { useStoragePools } from '../lib/api/storage'
import { useFleetDefaultId } from '../lib/api/settings'
import { ApiError } from '../lib/api/errors'
import { toast } from '../stores/ui'
import { cn } from '../lib/format'
import { CloudInitStep, DisksStep, GeneralStep, HardwareStep, NetworkStep, ReviewStep, SourceStep } from '../components/vm/wizard/Steps'
import { STEPS, errorsOfStep, fieldOfProblem, initialWizard, stepOf, toBody, validateWizard, type StepKey, type WizardState } from '../components/vm/wizard/model'

export default function VmNew() {
  const [s, setState] = useState<WizardState>(initialWizard)
  const [step, setStep] = useState<StepKey>('general')
  // Steps the user has left (or tried to): their errors are shown from then on.
  const [visited, setVisited] = useState<Set<StepKey>>(new Set())
  const hosts = useHosts({ limit: 500, sort: 'name' })
  const templatesQ = useVms({ template: true, limit: 500, sort: 'name' })
  const networks = useNetworks()
  const pools = useStoragePools()
  const create = useCreateVm()
  const nav = useNavigate()
  // the fleet's default pool and network (Settings) preselected once they are known
  const fleetPool = useFleetDefaultId('default_pool_id')
  const fleetNetwork = useFleetDefaultId('default_network_id')
  const [seeded, setSeeded] = useState(false)
  if (!seeded && (fleetPool !== 'default' || fleetNetwork !== 'default')) {
    setSeeded(true)
    setState((prev) => ({
      ...prev,
      disks: prev.disks.map((d) => (d.pool_id === 'default' ? { ...d, pool_id: fleetPool } : d)),
      nics: prev.nics.map((n) => (n.network_id === 'default' ? { ...n, network_id: fleetNetwork } : n)),
    }))
  }

  const templates = useMemo(() => (templatesQ.data?.items ?? []).filter((v) => v.template !== false && v.state !== 'deleted'), [templatesQ.data])
  const errors = validateWizard(s)
  const serverField = create.error instanceof ApiError ? fieldOfProblem(create.error.problem, create.error.detail) : undefined
  const set = (patch: Partial<WizardState>) => setState((prev) => ({ ...prev, ...patch }))
  const err = (key: string) => {
    if (visited.has(stepOf(key)) && errors[key]) return errors[key]
    if (serverField === key && create.error instanceof ApiError) return create.error.detail || create.error.title
    return undefined
  }
  const index = STEPS.findIndex((x) => x.key === step)
  const goTo = (k: StepKey) => {
    setVisited((v) => new Set(v).add(step))
    setStep(k)
  }

  const submit = () => {
    setVisited(new Set(STEPS.map((x) => x.key)))
    const bad = Object.keys(errors)
    if (bad.length) {
      setStep(stepOf(bad[0]))
      return
    }
    const name = s.name.trim()
    create.mutate(toBody(s), {
      onSuccess: (res) => {
        toast.success(`Creating ${name}`, s.start ? 'The VM starts when it is ready.' : undefined, { to: `/tasks/${res.task_id}`, label: 'View task' })
        nav(`/vms/${res.vm_id}`)
      },
    })
  }

  const onSubmit = (e: React.FormEvent) => {
    e.preventDefault()
    if (step === 'review') submit()
    else goTo(STEPS[index + 1].key)
  }

  const template = templates.find((t) => t.id === s.template_id)
  const hostName = s.host_id ? (hosts.data?.items.find((h) => h.id === s.host_id)?.name ?? s.host_id) : 'Automatic (scheduler)'
  const networkName = (id: string) => networks.data?.items.find((n) => n.id === id)?.name ?? id
  const poolName = (id: string) => pools.data?.items.find((p) => p.id === id)?.name ?? id
  const props = { s, set, err }
  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-3 text-xs text-subtle">
        <Link to="/vms" className="hover:text-fg">
          Virtual Machines
        </Link>{' '}
        / New
      </nav>
      <PageHeader title="New virtual machine" icon={<MonitorCog className="size-5" />} subtitle="Define the VM step by step; review before creating it." />
      <div className="grid gap-4 lg:grid-cols-[14rem_1fr]">
        <ol aria-label="Steps" className="flex flex-row flex-wrap gap-1 lg:flex-col">
          {STEPS.map((x, i) => {
            const bad = visited.has(x.key) && errorsOfStep(errors, x.key).length > 0
            const active = x.key === step
            return (
              <li key={x.key}>
                <button
                  type="button"
                  onClick={() => goTo(x.key)}
                  aria-current={active ? 'step' : undefined}
                  data-invalid={bad || undefined}
                  className={cn(
                    'flex w-full items-center gap-2 rounded-md px-3 py-2 text-left text-sm',
                    active ? 'bg-accent-soft text-fg' : 'text-muted hover:bg-surface-2 hover:text-fg',
                  )}
                >
                  <span className={cn('flex size-5 items-center justify-center rounded-full border text-[11px] tabular-nums', bad ? 'border-bad text-bad' : active ? 'border-accent text-accent' : 'border-border')}>
                    {visited.has(x.key) && !bad && !active ? <Check className="size-3" /> : i + 1}
                  </span>
                  {x.label}
                </button>
              </li>
            )
          })}
        </ol>
        <Card title={STEPS[index].label}>
          <form onSubmit={onSubmit} noValidate className="flex flex-col gap-5" aria-label="New VM" data-step={step}>
            {step === 'general' && <GeneralStep {...props} hosts={hosts.data?.items} />}
            {step === 'source' && <SourceStep {...props} templates={templates} loading={templatesQ.isPending} />}
            {step === 'hardware' && <HardwareStep {...props} />}
            {step === 'disks' && <DisksStep {...props} template={template} pools={pools.data?.items} hosts={hosts.data?.items} />}
            {step === 'network' && <NetworkStep {...props} template={template} networks={networks.data?.items} />}
            {step === 'cloud-init' && <CloudInitStep {...props} />}
            {step === 'review' && <ReviewStep {...props} errors={errors} goTo={goTo} hostName={hostName} templateName={template?.name ?? s.template_id} networkName={networkName} poolName={poolName} />}
            {create.isError && <ProblemBox error={create.error} field={serverField} onShowField={serverField ? () => setStep(stepOf(serverField)) : undefined} />}
            <div className="flex items-center justify-between gap-2 border-t border-border pt-4">
              <Button onClick={() => nav('/vms')}>Cancel</Button>
              <div className="flex gap-2">
                <Button icon={<ChevronLeft className="size-4" />} disabled={index === 0} onClick={() => goTo(STEPS[index - 1].key)}>
                  Back
                </Button>
                {step === 'review' ? (
                  <Button variant="primary" type="submit" loading={create.isPending}>
                    Create VM
                  </Button>
                ) : (
                  <Button variant="primary" type="submit">
                    Next
                    <ChevronRight className="size-4" />
                  </Button>
                )}
              </div>
            </div>
          </form>
        </Card>
      </div>
    </>
  )
}
