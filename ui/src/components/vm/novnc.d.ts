/**
 * The part of noVNC's RFB client (`@novnc/novnc`, plain JavaScript) the console tab uses.
 */
declare module '@novnc/novnc' {
  export interface RfbOptions {
    shared?: boolean
    credentials?: { username?: string; password?: string; target?: string }
    repeaterID?: string
    /** Subprotocols offered on the WebSocket (the bearer token rides here). */
    wsProtocols?: string[]
  }

  export interface RfbDisconnectDetail {
    clean: boolean
  }

  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, urlOrChannel: string | WebSocket, options?: RfbOptions)
    scaleViewport: boolean
    resizeSession: boolean
    clipViewport: boolean
    viewOnly: boolean
    focusOnClick: boolean
    background: string
    disconnect(): void
    sendCtrlAltDel(): void
    focus(): void
  }
}
