import { useSearchParams } from 'react-router'
import { ChevronLeft, ChevronRight, Server } from 'lucide-react'
import { useHosts, useStats } from '../lib/api/hooks'
import { HOST_STATES } from '../lib/api/types'
import { PageHeader } from '../components/ui/Card'
import { Tabs } from '../components/ui/Tabs'
import { EmptyState, ErrorState, Spinner } from '../components/ui/Feedback'
import { HostTable } from '../components/host/HostTable'
import { Button } from '../components/ui/Button'
import { usePaging } from '../lib/paging'
import { useEffect } from 'react'

type TabKey = 'all' | (typeof HOST_STATES)[number]

export default function HostList() {
  const [sp, setSp] = useSearchParams()
  const tab = (sp.get('state') as TabKey | null) ?? 'all'
  const stats = useStats()
  const paging = usePaging(200)
  const { reset } = paging
  useEffect(() => reset(), [tab, reset])
  const hosts = useHosts({ limit: paging.state.pageSize, cursor: paging.cursor ?? undefined, sort: 'name', state: tab === 'all' ? undefined : tab })
  const by = stats.data?.hosts.by_state ?? {}
  const tabs = [
    { key: 'all' as TabKey, label: 'All', count: stats.data?.hosts.total },
    ...HOST_STATES.map((s) => ({ key: s as TabKey, label: s[0].toUpperCase() + s.slice(1), count: stats.data ? (by[s] ?? 0) : undefined })),
  ]
  return (
    <>
      <PageHeader title="Hosts" icon={<Server className="size-5" />} subtitle="Hypervisors enrolled with LimiQuantix. Right-click a host for actions." />
      <Tabs<TabKey> tabs={tabs} value={tab} onChange={(k) => setSp(k === 'all' ? {} : { state: k }, { replace: true })} className="mb-4" />
      {hosts.isPending ? (
        <Spinner label="Loading hosts…" />
      ) : hosts.isError && !hosts.data ? (
        <ErrorState error={hosts.error} onRetry={() => hosts.refetch()} title="Could not load hosts" />
      ) : hosts.data!.items.length === 0 ? (
        <div className="rounded-xl border border-border bg-surface">
          <EmptyState icon={<Server className="size-5" />} title={tab === 'all' ? 'No hosts enrolled yet' : `No ${tab} hosts`}>
            {tab === 'all' ? 'Start the LimiQuantix agent on a hypervisor to enrol it.' : null}
          </EmptyState>
        </div>
      ) : (
        <>
          <HostTable hosts={hosts.data!.items} />
          {(paging.state.index > 0 || hosts.data!.next_cursor) && (
            <div className="mt-3 flex justify-end gap-2">
              <Button size="sm" icon={<ChevronLeft className="size-3.5" />} disabled={paging.state.index === 0} onClick={paging.prev}>
                Prev
              </Button>
              <Button size="sm" disabled={!hosts.data!.next_cursor} onClick={() => paging.next(hosts.data!.next_cursor)}>
                Next <ChevronRight className="size-3.5" />
              </Button>
            </div>
          )}
        </>
      )}
    </>
  )
}
