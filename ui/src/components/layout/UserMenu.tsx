import { LogOut, Settings as SettingsIcon, UserRound } from 'lucide-react'
import { Link } from 'react-router'
import { logout, useSession } from '../../lib/auth'

/** Who is signed in, the way to Settings, and signing out (a full reload drops all state). */
export function UserMenu() {
  const username = useSession((s) => s.session?.username)
  if (!username) return null
  const signOut = async () => {
    await logout()
    window.location.assign('/login')
  }
  return (
    <div className="flex items-center gap-1">
      <span className="flex items-center gap-1 px-1 text-xs text-muted" data-testid="signed-in-user">
        <UserRound className="size-4" />
        {username}
      </span>
      <Link
        to="/settings"
        className="flex size-8 items-center justify-center rounded-md border border-border text-muted hover:bg-surface-2 hover:text-fg"
        aria-label="Settings"
        title="Settings"
      >
        <SettingsIcon className="size-4" />
      </Link>
      <button
        onClick={() => void signOut()}
        className="flex size-8 items-center justify-center rounded-md border border-border text-muted hover:bg-surface-2 hover:text-fg"
        aria-label="Sign out"
        title="Sign out"
      >
        <LogOut className="size-4" />
      </button>
    </div>
  )
}
