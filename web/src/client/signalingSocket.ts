// The signaling WebSocket at `${server}/v1/signal` (docs/protocol.md, "Signaling protocol"):
// JSON text messages both ways, a `ping` every 15 s so the server (which closes a connection
// silent for 60 s) keeps us (every second on a link that reconnects, see reconnect.ts). Messages the SDK cannot read are dropped: they change nothing.

import { SwitchboardError } from '../core/errors.js';
import {
  MAX_SERVER_MESSAGE_SIZE,
  parseSignal,
  serializeSignal,
  type SignalMessage,
} from './signaling.js';

export const SIGNAL_PATH = '/v1/signal';
export const PING_INTERVAL_MS = 15_000;

export interface SignalingSocketHandlers {
  message(message: SignalMessage): void;
  // The connection is over (not after close()).
  closed(error: SwitchboardError): void;
}

// "ws://host:port" → "ws://host:port/v1/signal"; http(s) is taken as ws(s). A URL with a
// path of its own is used as it is (a `redirect` names a full URL).
export function signalingUrl(server: string): URL {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new SwitchboardError(
      'INVALID_ARGUMENT',
      `server "${server}" is not a URL; expected ws://host:port or wss://host`,
    );
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new SwitchboardError(
      'INVALID_ARGUMENT',
      `server "${server}" must be a ws://, wss://, http:// or https:// URL`,
    );
  }
  if (url.pathname === '' || url.pathname === '/') url.pathname = SIGNAL_PATH;
  url.hash = '';
  return url;
}

export class SignalingSocket {
  private readonly ws: WebSocket;
  private readonly handlers: SignalingSocketHandlers;
  private over = false;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pings = 0;
  private readonly pingIntervalMs: number;
  // performance.now() when anything last came from the server (or the socket opened).
  lastHeard = 0;

  // Connecting starts at once; opened() tells when it is up.
  constructor(url: URL, handlers: SignalingSocketHandlers, pingIntervalMs = PING_INTERVAL_MS) {
    this.handlers = handlers;
    this.pingIntervalMs = pingIntervalMs;
    this.ws = new WebSocket(url.href);
    this.ws.onmessage = (event) => this.onMessage(event);
    this.ws.onclose = (event) =>
      this.fail(
        new SwitchboardError(
          'NOT_CONNECTED',
          `the signaling connection to ${url.host} closed` +
            (event.reason ? `: ${event.reason}` : ` (code ${event.code})`),
        ),
      );
    this.ws.onerror = () =>
      this.fail(
        new SwitchboardError(
          'NOT_CONNECTED',
          `cannot reach the Switchboard server at ${url.href}; is it running?`,
        ),
      );
  }

  // Resolves when the WebSocket is open, rejects with NOT_CONNECTED after `timeoutMs`.
  opened(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState === WebSocket.OPEN) {
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        const error = new SwitchboardError(
          'NOT_CONNECTED',
          `the server did not accept the signaling connection within ${timeoutMs} ms`,
        );
        this.fail(error);
        reject(error);
      }, timeoutMs);
      this.ws.addEventListener('open', () => {
        clearTimeout(timer);
        this.lastHeard = performance.now();
        this.pingTimer = setInterval(() => this.send({ type: 'ping', req: `p${++this.pings}` }), this.pingIntervalMs);
        resolve();
      });
      this.ws.addEventListener('close', () => {
        clearTimeout(timer);
        reject(new SwitchboardError('NOT_CONNECTED', 'the signaling connection closed while opening'));
      });
    });
  }

  send(message: SignalMessage): void {
    if (this.over || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(serializeSignal(message));
  }

  // Closes after what was sent (a `leave`) is written; no handler runs after it.
  close(): void {
    if (this.over) return;
    this.over = true;
    this.stop();
    this.ws.close(1000);
  }

  private onMessage(event: MessageEvent): void {
    if (this.over) return;
    this.lastHeard = performance.now();
    if (typeof event.data !== 'string') return;
    let message: SignalMessage;
    try {
      message = parseSignal(event.data, MAX_SERVER_MESSAGE_SIZE);
    } catch {
      return;
    }
    this.handlers.message(message);
  }

  private fail(error: SwitchboardError): void {
    if (this.over) return;
    this.over = true;
    this.stop();
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) {
      this.ws.close();
    }
    this.handlers.closed(error);
  }

  private stop(): void {
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    this.ws.onmessage = null;
    this.ws.onclose = null;
    this.ws.onerror = null;
  }
}
