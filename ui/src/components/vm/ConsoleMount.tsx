/**
 * The VM's Console tab: `ConsoleTab` (serial console through xterm.js, VNC through noVNC)
 * is loaded lazily, in its own chunk, only when the tab is opened, so the VM page does not
 * carry the terminal and VNC libraries.
 */
import { lazy, Suspense } from 'react'
import type { Vm } from '../../lib/api/types'
import { Spinner } from '../ui/Feedback'

const ConsoleTab = lazy(() => import('./ConsoleTab'))

export function ConsoleMount({ vm }: { vm: Vm }) {
  return (
    <Suspense fallback={<Spinner label="Loading console…" />}>
      <ConsoleTab vm={vm} vmId={vm.id} />
    </Suspense>
  )
}
