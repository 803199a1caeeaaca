import { useState, type FormEvent } from 'react'
import { Navigate, useNavigate, useSearchParams } from 'react-router'
import { LogIn } from 'lucide-react'
import { Button } from '../components/ui/Button'
import { login, useSession } from '../lib/auth'
import { describeError } from '../lib/api/errors'

/** Sign in; afterwards go back to `?next=` (the page a user was on when their session ended). */
export default function Login() {
  const [params] = useSearchParams()
  const navigate = useNavigate()
  const signedIn = useSession((s) => s.session !== null)
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const raw = params.get('next') ?? '/'
  const next = raw.startsWith('/') && !raw.startsWith('//') ? raw : '/'
  if (signedIn && !busy) return <Navigate to={next} replace />

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await login(username, password)
      navigate(next, { replace: true })
    } catch (err) {
      setError(describeError(err))
      setBusy(false)
    }
  }

  return (
    <div className="flex min-h-full items-center justify-center bg-bg p-6">
      <form onSubmit={submit} className="w-full max-w-sm space-y-4 rounded-xl border border-border bg-surface p-6 shadow-lg" aria-label="Sign in">
        <div>
          <h1 className="text-lg font-semibold text-fg">LimiQuantix</h1>
          <p className="text-sm text-muted">Sign in to manage your fleet.</p>
        </div>
        {params.get('expired') && !error && (
          <p role="status" className="rounded-md border border-warn/30 bg-warn/10 px-3 py-2 text-sm text-fg">
            Your session ended. Sign in again to continue.
          </p>
        )}
        <label className="block space-y-1 text-sm">
          <span className="text-muted">User name</span>
          <input
            name="username"
            autoComplete="username"
            autoFocus
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            className="h-9 w-full rounded-md border border-border bg-bg px-3 text-fg outline-none focus:border-accent"
          />
        </label>
        <label className="block space-y-1 text-sm">
          <span className="text-muted">Password</span>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            className="h-9 w-full rounded-md border border-border bg-bg px-3 text-fg outline-none focus:border-accent"
          />
        </label>
        {error && (
          <p role="alert" className="rounded-md border border-bad/30 bg-bad/10 px-3 py-2 text-sm text-bad">
            {error}
          </p>
        )}
        <Button type="submit" variant="primary" className="w-full justify-center" loading={busy} icon={<LogIn className="size-4" />}>
          Sign in
        </Button>
      </form>
    </div>
  )
}
