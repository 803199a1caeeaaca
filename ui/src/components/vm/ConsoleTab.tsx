/**
 * The VM's Console tab: its serial console in xterm.js or its VNC display in noVNC, both
 * through the controlplane's authenticated WebSocket proxy
 * (`/api/v1/vms/{id}/console/{serial|vnc}`, docs/console.md).
 *
 * Browsers cannot set headers on a WebSocket, so the access token rides as a
 * `bearer.<token>` subprotocol beside `binary`, which the server answers (as for the live
 * changes socket). A console is a live session, not a view of data: when it ends (the VM
 * stopped, the browser was idle in another tab, the server restarted) the tab says why and
 * offers to connect again rather than reconnecting behind the user's back.
 */
import { useCallback, useEffect, useRef, useState } from 'react'
import { Keyboard, Monitor, Plug, TerminalSquare } from 'lucide-react'
import { Terminal } from '@xterm/xterm'
import { FitAddon } from '@xterm/addon-fit'
import RFB from '@novnc/novnc'
import '@xterm/xterm/css/xterm.css'
import type { Vm } from '../../lib/api/types'
import { useCanOnVm } from '../../lib/api/scope'
import { accessToken } from '../../lib/auth'
import { cn } from '../../lib/format'
import { Button } from '../ui/Button'
import { Card } from '../ui/Card'
import { EmptyState } from '../ui/Feedback'

export type ConsoleKind = 'serial' | 'vnc'
type Status =
  | { state: 'connecting' }
  | { state: 'open' }
  | { state: 'closed'; reason: string }

export function consoleUrl(loc: { protocol: string; host: string }, vmId: string, kind: ConsoleKind): string {
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws'
  return `${scheme}://${loc.host}/api/v1/vms/${encodeURIComponent(vmId)}/console/${kind}`
}

function protocolsFor(token: string | null): string[] {
  return token ? ['binary', `bearer.${token}`] : ['binary']
}

/** Why a console WebSocket closed, in words (the server's close reason when it gave one). */
function closeReason(ev: { code: number; reason: string }): string {
  if (ev.reason) return ev.reason
  if (ev.code === 1000 || ev.code === 1005) return 'the console was closed'
  if (ev.code === 1001) return 'the server is restarting'
  return 'the console could not be opened: the VM may have stopped, or its host refused or did not answer'
}

export function ConsoleTab({ vm, vmId }: { vm: Vm; vmId?: string }) {
  const id = vmId ?? vm.id
  const [kind, setKind] = useState<ConsoleKind>('serial')
  const [attempt, setAttempt] = useState(0)
  const [status, setStatus] = useState<Status>({ state: 'connecting' })
  const [rfb, setRfb] = useState<RFB | null>(null)
  const running = vm.state === 'running'
  const allowed = useCanOnVm('vm.console', vm)
  const reconnect = useCallback(() => setAttempt((n) => n + 1), [])

  if (!allowed) {
    return (
      <Card>
        <EmptyState icon={<TerminalSquare className="size-5" />} title="No access to consoles">
          Opening a VM's console needs the permission vm.console.
        </EmptyState>
      </Card>
    )
  }
  if (!running) {
    return (
      <Card>
        <EmptyState icon={<TerminalSquare className="size-5" />} title="The console needs a running VM">
          Start the VM to open its serial console or its display.
        </EmptyState>
      </Card>
    )
  }

  return (
    <Card
      title={
        <span className="inline-flex items-center gap-2">
          Console
          <StatusDot status={status} />
        </span>
      }
      actions={
        <div className="flex items-center gap-2">
          {kind === 'vnc' && (
            <Button
              size="sm"
              variant="ghost"
              icon={<Keyboard className="size-3.5" />}
              disabled={status.state !== 'open' || !rfb}
              onClick={() => rfb?.sendCtrlAltDel()}
            >
              Ctrl+Alt+Del
            </Button>
          )}
          <div role="tablist" aria-label="Console type" className="inline-flex rounded-md border border-border p-0.5">
            {(['serial', 'vnc'] as const).map((k) => (
              <button
                key={k}
                type="button"
                role="tab"
                aria-selected={kind === k}
                onClick={() => setKind(k)}
                className={cn(
                  'inline-flex h-6 items-center gap-1.5 rounded px-2 text-xs font-medium',
                  kind === k ? 'bg-elevated text-fg' : 'text-muted hover:text-fg',
                )}
              >
                {k === 'serial' ? <TerminalSquare className="size-3.5" /> : <Monitor className="size-3.5" />}
                {k === 'serial' ? 'Serial' : 'Display (VNC)'}
              </button>
            ))}
          </div>
        </div>
      }
    >
      {status.state === 'closed' && (
        <div className="mb-3 flex items-center justify-between gap-3 rounded-md border border-border bg-surface-2 px-3 py-2 text-sm">
          <span className="text-muted">Disconnected: {status.reason}</span>
          <Button size="sm" icon={<Plug className="size-3.5" />} onClick={reconnect}>
            Connect again
          </Button>
        </div>
      )}
      {kind === 'serial' ? (
        <SerialConsole key={`serial-${attempt}`} vmId={id} onStatus={setStatus} />
      ) : (
        <VncConsole key={`vnc-${attempt}`} vmId={id} onStatus={setStatus} onRfb={setRfb} />
      )}
    </Card>
  )
}

function StatusDot({ status }: { status: Status }) {
  const label = status.state === 'open' ? 'connected' : status.state === 'connecting' ? 'connecting…' : 'disconnected'
  return (
    <span className="inline-flex items-center gap-1.5 text-xs font-normal text-muted" data-testid="console-status">
      <span
        className={cn(
          'size-2 rounded-full',
          status.state === 'open' ? 'bg-ok' : status.state === 'connecting' ? 'bg-warn animate-pulse' : 'bg-bad',
        )}
      />
      {label}
    </span>
  )
}

function SerialConsole({ vmId, onStatus }: { vmId: string; onStatus: (s: Status) => void }) {
  const host = useRef<HTMLDivElement>(null)

  useEffect(() => {
    const el = host.current
    if (!el) return
    let disposed = false
    let ws: WebSocket | null = null
    const term = new Terminal({
      cursorBlink: true,
      fontSize: 13,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
      scrollback: 5000,
      theme: { background: '#0b0d10' },
    })
    const fit = new FitAddon()
    term.loadAddon(fit)
    term.open(el)
    fit.fit()
    const resize = new ResizeObserver(() => fit.fit())
    resize.observe(el)
    const encoder = new TextEncoder()
    const typed = term.onData((data) => {
      if (ws?.readyState === WebSocket.OPEN) ws.send(encoder.encode(data))
    })
    onStatus({ state: 'connecting' })
    void accessToken().then((token) => {
      if (disposed) return
      ws = new WebSocket(consoleUrl(window.location, vmId, 'serial'), protocolsFor(token))
      ws.binaryType = 'arraybuffer'
      ws.onopen = () => {
        onStatus({ state: 'open' })
        term.focus()
      }
      ws.onmessage = (ev: MessageEvent) => {
        term.write(typeof ev.data === 'string' ? ev.data : new Uint8Array(ev.data as ArrayBuffer))
      }
      ws.onclose = (ev) => {
        if (!disposed) onStatus({ state: 'closed', reason: closeReason(ev) })
      }
    })
    return () => {
      disposed = true
      typed.dispose()
      resize.disconnect()
      ws?.close(1000, 'closed by the user')
      term.dispose()
    }
  }, [vmId, onStatus])

  return <div ref={host} className="h-[480px] w-full overflow-hidden rounded-md bg-[#0b0d10] p-2" data-testid="serial-console" />
}

function VncConsole({
  vmId,
  onStatus,
  onRfb,
}: {
  vmId: string
  onStatus: (s: Status) => void
  onRfb: (r: RFB | null) => void
}) {
  const host = useRef<HTMLDivElement>(null)

  useEffect(() => {
    const el = host.current
    if (!el) return
    let disposed = false
    let rfb: RFB | null = null
    onStatus({ state: 'connecting' })
    void accessToken().then((token) => {
      if (disposed) return
      rfb = new RFB(el, consoleUrl(window.location, vmId, 'vnc'), { wsProtocols: protocolsFor(token) })
      rfb.scaleViewport = true
      rfb.background = '#0b0d10'
      rfb.addEventListener('connect', () => onStatus({ state: 'open' }))
      rfb.addEventListener('disconnect', (ev) => {
        const clean = (ev as CustomEvent<{ clean: boolean }>).detail?.clean
        if (!disposed) onStatus({ state: 'closed', reason: clean ? 'the display was closed' : 'the display connection was lost' })
        onRfb(null)
      })
      rfb.addEventListener('securityfailure', () => {
        if (!disposed) onStatus({ state: 'closed', reason: 'the display refused the connection' })
      })
      onRfb(rfb)
    })
    return () => {
      disposed = true
      onRfb(null)
      rfb?.disconnect()
    }
  }, [vmId, onStatus, onRfb])

  return <div ref={host} className="h-[540px] w-full overflow-hidden rounded-md bg-[#0b0d10]" data-testid="vnc-console" />
}

export default ConsoleTab
