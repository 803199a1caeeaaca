import { Suspense, useEffect } from 'react'
import { Outlet, useNavigate } from 'react-router'
import { Sidebar } from './Sidebar'
import { Header } from './Header'
import { ConnectionBanner } from './ConnectionIndicator'
import { TasksPanel } from '../tasks/TasksPanel'
import { Toaster } from '../ui/Toaster'
import { Spinner } from '../ui/Feedback'
import { useUi } from '../../stores/ui'

export function Layout() {
  const theme = useUi((s) => s.theme)
  const density = useUi((s) => s.density)
  const nav = useNavigate()
  // "n" opens the VM creation wizard from anywhere (not while typing or in a dialog);
  // "/" (search) lives in the SearchBox.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'n' || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return
      const t = e.target as HTMLElement | null
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return
      if (t?.closest?.('.xterm, [data-testid=serial-console], [data-testid=vnc-console]')) return
      if (document.querySelector('[role=dialog]')) return
      e.preventDefault()
      nav('/vms/new')
    }
    document.addEventListener('keydown', onKey)
    return () => document.removeEventListener('keydown', onKey)
  }, [nav])
  useEffect(() => {
    const root = document.documentElement
    root.classList.toggle('dark', theme === 'dark')
    root.classList.toggle('light', theme === 'light')
  }, [theme])
  useEffect(() => {
    document.documentElement.dataset.density = density
  }, [density])
  return (
    <div className="flex h-full overflow-hidden">
      <Sidebar />
      <div className="flex min-w-0 flex-1 flex-col">
        <Header />
        <ConnectionBanner />
        <main className="min-h-0 flex-1 overflow-y-auto" id="main">
          <div className="mx-auto max-w-[1600px] px-6 py-5">
            <Suspense fallback={<Spinner />}>
              <Outlet />
            </Suspense>
          </div>
        </main>
        <TasksPanel />
      </div>
      <Toaster />
    </div>
  )
}
