import { ListChecks, Moon, Sun } from 'lucide-react'
import { useTasks } from '../../lib/api/hooks'
import { useUi } from '../../stores/ui'
import { SearchBox } from './SearchBox'
import { ConnectionIndicator } from './ConnectionIndicator'
import { UserMenu } from './UserMenu'
import { cn } from '../../lib/format'

export function Header() {
  const { theme, toggleTheme, tasksPanelOpen, toggleTasksPanel } = useUi()
  const running = useTasks({ state: 'running', limit: 500 })
  const n = running.data?.total ?? 0
  return (
    <header className="flex h-14 shrink-0 items-center gap-3 border-b border-border bg-surface/80 px-4 backdrop-blur">
      <SearchBox />
      <div className="ml-auto flex items-center gap-2">
        <ConnectionIndicator />
        <button
          onClick={toggleTasksPanel}
          aria-pressed={tasksPanelOpen}
          className={cn(
            'flex h-8 items-center gap-1.5 rounded-md border px-2.5 text-xs font-medium',
            tasksPanelOpen ? 'border-accent/40 bg-accent-soft text-fg' : 'border-border text-muted hover:bg-surface-2 hover:text-fg',
          )}
          title="Recent tasks"
        >
          <ListChecks className="size-4" />
          Tasks
          {n > 0 && <span className="rounded-full bg-accent px-1.5 text-[10px] text-accent-fg tabular-nums">{n}</span>}
        </button>
        <button
          onClick={toggleTheme}
          className="flex size-8 items-center justify-center rounded-md border border-border text-muted hover:bg-surface-2 hover:text-fg"
          aria-label={theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme'}
          title={theme === 'dark' ? 'Light theme' : 'Dark theme'}
        >
          {theme === 'dark' ? <Sun className="size-4" /> : <Moon className="size-4" />}
        </button>
        <UserMenu />
      </div>
    </header>
  )
}
