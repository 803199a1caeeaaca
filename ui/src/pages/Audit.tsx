/** The global audit log: every event, newest first, searchable by text, type, actor and time. */
import { useState } from 'react'
import { ScrollText } from 'lucide-react'
import { Card, PageHeader } from '../components/ui/Card'
import { EventTable } from '../components/events/EventTable'
import { EventFilterBar } from '../components/events/EventFilters'
import { useAuditLog, type EventFilters } from '../lib/api/history'

const TYPES = ['vm.', 'host.', 'task.', 'user.', 'role.', 'token.', 'auth.', 'alert.']

export default function Audit() {
  const [filters, setFilters] = useState<EventFilters>({})
  const q = useAuditLog({ ...filters, order: 'desc' })
  return (
    <>
      <PageHeader title="Audit log" icon={<ScrollText className="size-5" />} subtitle="Who did what, when and why: every event of the fleet, newest first" />
      <Card bodyClassName="p-2">
        <EventFilterBar value={filters} onChange={setFilters} types={TYPES} search range />
        <EventTable query={q} showAggregate />
      </Card>
    </>
  )
}
