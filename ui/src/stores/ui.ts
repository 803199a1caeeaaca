/** UI state that is not server state: layout, theme, connection, toasts. */
import { create } from 'zustand'
import { persist } from 'zustand/middleware'
import type { ConnectionState } from '../lib/changes'

export type Theme = 'dark' | 'light'
/** Per-user, kept in this browser only (Settings → Appearance). */
export type Density = 'comfortable' | 'compact'

interface UiState {
  sidebarCollapsed: boolean
  theme: Theme
  density: Density
  tasksPanelOpen: boolean
  toggleSidebar: () => void
  setTheme: (t: Theme) => void
  toggleTheme: () => void
  setDensity: (d: Density) => void
  setTasksPanelOpen: (open: boolean) => void
  toggleTasksPanel: () => void
}

export const useUi = create<UiState>()(
  persist(
    (set) => ({
      sidebarCollapsed: false,
      theme: 'dark',
      density: 'comfortable',
      tasksPanelOpen: true,
      toggleSidebar: () => set((s) => ({ sidebarCollapsed: !s.sidebarCollapsed })),
      setTheme: (theme) => set({ theme }),
      toggleTheme: () => set((s) => ({ theme: s.theme === 'dark' ? 'light' : 'dark' })),
      setDensity: (density) => set({ density }),
      setTasksPanelOpen: (tasksPanelOpen) => set({ tasksPanelOpen }),
      toggleTasksPanel: () => set((s) => ({ tasksPanelOpen: !s.tasksPanelOpen })),
    }),
    { name: 'lq-ui', version: 1 },
  ),
)

interface ConnState {
  state: ConnectionState
  seq: number
  attempt: number
  retryInMs?: number
  since: number | null
  set: (p: Partial<Omit<ConnState, 'set'>>) => void
}

export const useConnection = create<ConnState>()((set) => ({
  state: 'connecting',
  seq: 0,
  attempt: 0,
  since: null,
  set: (p) => set(p),
}))

export type ToastKind = 'success' | 'error' | 'info'
export interface Toast {
  id: number
  kind: ToastKind
  title: string
  message?: string
  link?: { to: string; label: string }
}

interface ToastState {
  toasts: Toast[]
  push: (t: Omit<Toast, 'id'>, ttlMs?: number) => number
  dismiss: (id: number) => void
}

let nextToast = 1
export const useToasts = create<ToastState>()((set, get) => ({
  toasts: [],
  push: (t, ttlMs) => {
    const id = nextToast++
    set({ toasts: [...get().toasts.slice(-4), { ...t, id }] })
    const ttl = ttlMs ?? (t.kind === 'error' ? 9000 : 5000)
    if (ttl > 0) setTimeout(() => get().dismiss(id), ttl)
    return id
  },
  dismiss: (id) => set({ toasts: get().toasts.filter((x) => x.id !== id) }),
}))

export const toast = {
  success: (title: string, message?: string, link?: Toast['link']) =>
    useToasts.getState().push({ kind: 'success', title, message, link }),
  error: (title: string, message?: string, link?: Toast['link']) =>
    useToasts.getState().push({ kind: 'error', title, message, link }),
  info: (title: string, message?: string, link?: Toast['link']) =>
    useToasts.getState().push({ kind: 'info', title, message, link }),
}
