/**
 * The signed-in session: tokens, refresh and what happens when a session ends.
 *
 * The access token is short-lived (15 min by default); `accessToken()` refreshes it shortly
 * before it expires, and a 401 from the API triggers one refresh and a retry (api client).
 * Refreshes are single-flight per tab: the server rotates refresh tokens and ends a session
 * whose old refresh token comes back, so two concurrent refreshes must never happen. When
 * refreshing fails the session is over: tokens are dropped and the browser goes to
 * `/login?next=<the page>` so the user comes back where they were.
 *
 * Tokens live in sessionStorage (per tab, gone when the tab closes), not in cookies: the API
 * takes bearer tokens only, so there is no cross-site request forgery to defend against.
 */
import { create } from 'zustand'
import { createJSONStorage, persist } from 'zustand/middleware'
import { errorFromResponse, networkError } from './api/errors'

export interface Session {
  accessToken: string
  refreshToken: string
  /** Epoch milliseconds at which the access token expires. */
  expiresAt: number
  userId: string
  username: string
}

interface SessionState {
  session: Session | null
  set: (s: Session | null) => void
}

export const useSession = create<SessionState>()(
  persist((set) => ({ session: null, set: (session) => set({ session }) }), {
    name: 'lq-session',
    version: 1,
    storage: createJSONStorage(() => sessionStorage),
  }),
)

interface TokenAnswer {
  access_token: string
  refresh_token: string
  expires_in: number
  token_type: 'Bearer'
  user: { id: string; username: string }
}

const AUTH_BASE = '/api/v1/auth'
const EARLY_MS = 20_000

function store(answer: TokenAnswer): Session {
  const session: Session = {
    accessToken: answer.access_token,
    refreshToken: answer.refresh_token,
    expiresAt: Date.now() + answer.expires_in * 1000,
    userId: answer.user.id,
    username: answer.user.username,
  }
  useSession.getState().set(session)
  return session
}

async function post(path: string, body: unknown, token?: string): Promise<Response> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json, application/problem+json' }
  if (token) headers.Authorization = `Bearer ${token}`
  try {
    return await globalThis.fetch(`${AUTH_BASE}${path}`, { method: 'POST', headers, body: JSON.stringify(body) })
  } catch (e) {
    throw networkError(e)
  }
}

/** Sign in with a password; throws ApiError (401 wrong credentials, 429 locked out). */
export async function login(username: string, password: string): Promise<Session> {
  const res = await post('/login', { username, password })
  if (!res.ok) throw await errorFromResponse(res)
  return store((await res.json()) as TokenAnswer)
}

/** Change the signed-in user's password; the server ends the other sessions. */
export async function changePassword(current: string, next: string): Promise<void> {
  const token = await accessToken()
  const res = await post('/password', { current_password: current, new_password: next }, token ?? undefined)
  if (!res.ok) throw await errorFromResponse(res)
  store((await res.json()) as TokenAnswer)
}

let inflight: Promise<Session | null> | null = null

/** Exchange the refresh token once; null when the session is over. Single-flight. */
export function refreshSession(): Promise<Session | null> {
  if (inflight) return inflight
  const current = useSession.getState().session
  if (!current) return Promise.resolve(null)
  inflight = (async () => {
    try {
      const res = await post('/refresh', { refresh_token: current.refreshToken })
      if (!res.ok) return null
      return store((await res.json()) as TokenAnswer)
    } catch {
      return null
    } finally {
      inflight = null
    }
  })()
  return inflight
}

/** The access token to send now (refreshed when about to expire); null when signed out. */
export async function accessToken(): Promise<string | null> {
  const s = useSession.getState().session
  if (!s) return null
  if (s.expiresAt - Date.now() > EARLY_MS) return s.accessToken
  const fresh = await refreshSession()
  return fresh?.accessToken ?? null
}

/** The current access token without refreshing (for the WebSocket, which cannot wait). */
export function currentToken(): string | null {
  return useSession.getState().session?.accessToken ?? null
}

export function loginPath(next: string, expired = false): string {
  const q = new URLSearchParams()
  if (next && next !== '/' && !next.startsWith('/login')) q.set('next', next)
  if (expired) q.set('expired', '1')
  const s = q.toString()
  return s ? `/login?${s}` : '/login'
}

/** The session is over (refresh refused): drop it and go to the login page, remembering where we were. */
export function sessionExpired(): void {
  if (!useSession.getState().session) return
  useSession.getState().set(null)
  const here = window.location.pathname + window.location.search
  window.location.assign(loginPath(here, true))
}

export async function logout(): Promise<void> {
  const s = useSession.getState().session
  useSession.getState().set(null)
  if (s) {
    try {
      await post('/logout', {}, s.accessToken)
    } catch {
      // signed out locally either way
    }
  }
}
