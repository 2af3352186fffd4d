// Reconnecting and resuming (docs/protocol.md, "Reconnecting and resuming"): the timing
// and the server path's bookkeeping, pure (no I/O, no browser API), so they are unit
// tested under Node. CallTransport drives them. The constants and rules are those of
// src/client/call_transport.{hpp,cpp}.

import type { SwitchboardError } from '../core/errors.js';
import { DirectSendLog, type ClassedFrame } from '../core/pathSwitch.js';
import type { TrafficClass } from '../core/trafficClass.js';

// JoinOptions.reconnectTimeout's default: how long a lost call keeps trying to join again.
export const DEFAULT_RECONNECT_TIMEOUT_MS = 60_000;
// The first retry after this, doubling up to MAX_BACKOFF_MS.
export const FIRST_BACKOFF_MS = 250;
export const MAX_BACKOFF_MS = 2000;
// Keep-alive of a link that reconnects: a ping every second, and the server is taken for
// gone after 3 s without a word from it (it answers every ping).
export const RESUMABLE_PING_INTERVAL_MS = 1000;
export const SILENCE_LIMIT_MS = 3000;
// A resumable link acknowledges what it took in at most this often.
export const SERVER_ACK_DELAY_MS = 50;
// Durable transport messages sent to the server and not yet acknowledged, at most: past
// it the transport takes nothing more until an `ack` (the senders' queues fill, and
// sendMessage waits for room).
export const MAX_SERVER_UNACKED = 8 * 1024 * 1024;

// Per durable class (normal, high): the `received` of `ack`, `resume` and `joined`.
export type DurableCounts = [number, number];

// When to retry: FIRST_BACKOFF_MS, doubling to MAX_BACKOFF_MS, never past the end of the
// reconnect window.
export class Backoff {
  private nextMs = FIRST_BACKOFF_MS;
  private startedAt = 0;

  constructor(private readonly windowMs: number) {}

  // The connection was lost at `now`: the window starts.
  start(now: number): void {
    this.startedAt = now;
    this.nextMs = FIRST_BACKOFF_MS;
  }

  // The window is over: give up.
  expired(now: number): boolean {
    return now - this.startedAt >= this.windowMs;
  }

  // The wait before the next attempt, from `now`.
  delay(now: number): number {
    const left = this.startedAt + this.windowMs - now;
    const delay = Math.max(0, Math.min(this.nextMs, left));
    this.nextMs = Math.min(this.nextMs * 2, MAX_BACKOFF_MS);
    return delay;
  }
}

// The server path of a resumable link: what we sent that the server has not acknowledged
// (a copy of each durable transport message, the same bookkeeping as the direct path's),
// and the durable transport messages we took in from it, per class. Counts run from 0 at
// the participant's join, across connections, until a join that was not resumed.
export class ServerPathLog {
  private token: string | undefined;
  private log = new DirectSendLog(0);
  private counts: DurableCounts = [0, 0];

  // The server gave a resume token (its `joined.resumeToken`): from now on durable
  // messages are kept until acknowledged and what comes in is counted.
  setToken(token: string | undefined): void {
    this.token = token;
  }
  get resumable(): boolean {
    return this.token !== undefined;
  }
  // The `resume` of the next join, when there is a session to resume.
  get resumeRequest(): { token: string; received: DurableCounts } | undefined {
    return this.token === undefined ? undefined : { token: this.token, received: [...this.counts] };
  }
  get received(): DurableCounts {
    return [...this.counts];
  }
  get unackedBytes(): number {
    return this.log.unackedBytes;
  }

  // Whether a transport message of class `cls` may go now: false while durable copies
  // hold MAX_SERVER_UNACKED bytes or more.
  hasRoom(cls: TrafficClass): boolean {
    return !this.logs(cls) || this.log.unackedBytes < MAX_SERVER_UNACKED;
  }

  // A transport message of class `cls` went to the server: durable ones are kept.
  sent(cls: TrafficClass, message: Uint8Array): void {
    if (this.logs(cls)) this.log.sent(cls.priority, message);
  }

  // A transport message came on durable stream `stream` (0 normal, 1 high). True when it
  // was counted (the link is resumable), so an `ack` is due.
  tookIn(stream: number): boolean {
    if (!this.resumable || (stream !== 0 && stream !== 1)) return false;
    this.counts[stream] = (this.counts[stream] + 1) >>> 0;
    return true;
  }

  // The server's `ack`: what it took in. An error when it claims more than was sent.
  acknowledged(received: DurableCounts): SwitchboardError | undefined {
    if (!this.resumable) return undefined;
    return this.log.acknowledged({ session: 0, received });
  }

  // A resumed join: the server took in `received`; the rest is returned, to be sent again
  // first, exactly as it was (the copies stay in the log until acknowledged).
  resumed(received: DurableCounts): { replay: ClassedFrame[]; error?: SwitchboardError } {
    const error = this.log.acknowledged({ session: 0, received });
    const replay = this.log.unackedCopies();
    return error ? { replay, error } : { replay };
  }

  // A join that was not resumed: a new participant. Returns the DATA messages the old
  // session sent and the server never confirmed (lost); counting starts again from 0.
  restart(): number {
    const unconfirmed = this.log.unackedDataMessages();
    this.log = new DirectSendLog(0);
    this.counts = [0, 0];
    return unconfirmed;
  }

  private logs(cls: TrafficClass): boolean {
    return this.resumable && cls.reliability === 'Durable';
  }
}

