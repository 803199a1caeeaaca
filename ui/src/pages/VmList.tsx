import { useNavigate, useSearchParams } from 'react-router'
import { Monitor, Plus } from 'lucide-react'
import { PageHeader } from '../components/ui/Card'
import { Button } from '../components/ui/Button'
import { VmBrowser, DEFAULT_FILTERS, type VmFilters } from '../components/vm/VmBrowser'
import { useStats } from '../lib/api/hooks'
import { useCan } from '../lib/api/security'

export default function VmList() {
  const canCreate = useCan('vm.create')
  const [sp, setSp] = useSearchParams()
  const nav = useNavigate()
  const newVm = () => nav('/vms/new')
  const stats = useStats()
  const filters: VmFilters = {
    q: sp.get('q') ?? '',
    state: sp.get('state') ?? '',
    host_id: sp.get('host_id') ?? '',
    sort: sp.get('sort') ?? DEFAULT_FILTERS.sort,
    template: sp.get('template') ?? '',
  }
  const setFilters = (f: VmFilters) => {
    const next = new URLSearchParams()
    if (f.q) next.set('q', f.q)
    if (f.state) next.set('state', f.state)
    if (f.host_id) next.set('host_id', f.host_id)
    if (f.sort && f.sort !== DEFAULT_FILTERS.sort) next.set('sort', f.sort)
    if (f.template) next.set('template', f.template)
    setSp(next, { replace: true })
  }
  const s = stats.data?.vms
  return (
    <>
      <PageHeader
        title="Virtual Machines"
        icon={<Monitor className="size-5" />}
        subtitle={
          s ? (
            <span>
              {s.total.toLocaleString()} VMs · <span className="text-ok">{(s.by_state.running ?? 0).toLocaleString()} running</span> ·{' '}
              {(s.by_state.stopped ?? 0).toLocaleString()} stopped
              {s.by_state.error ? <span className="text-bad"> · {s.by_state.error.toLocaleString()} in error</span> : null}
            </span>
          ) : (
            'Every VM managed by LimiQuantix'
          )
        }
        actions={
          canCreate && (
            <Button variant="primary" icon={<Plus className="size-4" />} onClick={newVm} title="New VM (N)" aria-keyshortcuts="n">
              New VM
            </Button>
          )
        }
      />
      <VmBrowser
        filters={filters}
        onFilters={setFilters}
        emptyHint={
          <button className="text-accent hover:underline" onClick={newVm}>
            Create the first VM
          </button>
        }
      />
    </>
  )
}
