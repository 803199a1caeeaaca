import { useEffect, type ReactNode } from 'react'
import { Navigate, useLocation } from 'react-router'
import { useQueryClient } from '@tanstack/react-query'
import { loginPath, useSession } from '../../lib/auth'
import { useMe } from '../../lib/api/security'
import { startLiveUpdates } from '../../lib/live'
import { ErrorState, Spinner } from '../ui/Feedback'

let liveStarted = false

/**
 * Everything but /login sits behind this: without a session go to the login page (remembering
 * the page); with one, learn the caller's permissions first so pages can hide what they may not
 * do, and start the live-changes stream.
 */
export function RequireAuth({ children }: { children: ReactNode }) {
  const signedIn = useSession((s) => s.session !== null)
  const location = useLocation()
  const me = useMe()
  const queryClient = useQueryClient()
  useEffect(() => {
    if (signedIn && !liveStarted) {
      liveStarted = true
      startLiveUpdates(queryClient)
    }
  }, [signedIn, queryClient])
  if (!signedIn) return <Navigate to={loginPath(location.pathname + location.search)} replace />
  if (me.isPending) return <Spinner label="Signing in…" />
  if (me.isError) return <ErrorState error={me.error} onRetry={() => void me.refetch()} />
  return <>{children}</>
}
