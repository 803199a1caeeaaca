import { Suspense, useEffect } from 'react'
import { Outlet } from 'react-router'
import { Sidebar } from './Sidebar'
import { Header } from './Header'
import { ConnectionBanner } from './ConnectionIndicator'
import { TasksPanel } from '../tasks/TasksPanel'
import { Toaster } from '../ui/Toaster'
import { Spinner } from '../ui/Feedback'
import { useUi } from '../../stores/ui'

export function Layout() {
  const theme = useUi((s) => s.theme)
  useEffect(() => {
    const root = document.documentElement
    root.classList.toggle('dark', theme === 'dark')
    root.classList.toggle('light', theme === 'light')
  }, [theme])
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
