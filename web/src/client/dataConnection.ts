// What both of a participant's data connections share, toward the server (ServerConnection)
// or straight to a peer (PeerConnection): an RTCPeerConnection with NEGOTIATED data channels
// on fixed SCTP streams, one per traffic class (docs/protocol.md, "The data path between a
// participant and the server"), plus the direct path's control stream:
//
//   stream 0 switchboard-durable       ordered, reliable
//   stream 1 switchboard-durable-high  ordered, reliable
//   stream 2 switchboard-lossy         unordered, 0 retransmissions
//   stream 3 switchboard-lossy-high    unordered, 0 retransmissions
//   stream 4 switchboard-control       ordered, reliable (peer to peer only)
//
// Backpressure: send() refuses (false) while a channel holds more than HIGH_WATER_MARK
// unsent bytes, and `writable` fires when one falls to LOW_WATER_MARK.

import { SwitchboardError } from '../core/errors.js';

export const LOW_WATER_MARK = 1024 * 1024;
// Chromium refuses (and may close the channel) past 16 MiB queued on one channel.
export const HIGH_WATER_MARK = 4 * 1024 * 1024;
export const TRAFFIC_STREAMS = 4;
export const CONTROL_STREAM = 4;

interface ChannelSpec {
  label: string;
  lossy: boolean;
  high: boolean;
}

const CHANNELS: readonly ChannelSpec[] = [
  { label: 'switchboard-durable', lossy: false, high: false },
  { label: 'switchboard-durable-high', lossy: false, high: true },
  { label: 'switchboard-lossy', lossy: true, high: false },
  { label: 'switchboard-lossy-high', lossy: true, high: true },
  { label: 'switchboard-control', lossy: false, high: true },
];

export interface DataConnectionHandlers {
  // Every channel is open: send() works from now on. Called once.
  connected(): void;
  // One binary message on `stream`.
  message(stream: number, data: Uint8Array): void;
  // A channel's queue fell to the low-water mark: send more.
  writable(): void;
  // The connection died or could not come up. Called at most once, never after close().
  failed(error: SwitchboardError): void;
}

export class DataConnection {
  readonly pc: RTCPeerConnection;
  private readonly channels: RTCDataChannel[];
  private readonly handlers: DataConnectionHandlers;
  private readonly what: string;
  private opened = 0;
  private up = false;
  private over = false;

  // `streams`: 4 toward the server, 5 to a peer. `what` names the other side in errors.
  constructor(config: RTCConfiguration, streams: number, what: string, handlers: DataConnectionHandlers) {
    this.handlers = handlers;
    this.what = what;
    this.pc = new RTCPeerConnection(config);
    this.channels = CHANNELS.slice(0, streams).map((spec, id) => this.openChannel(spec, id));
    this.pc.onconnectionstatechange = () => {
      const state = this.pc.connectionState;
      if (state === 'failed' || state === 'closed') {
        this.fail(`the connection to ${this.what} ${state}`);
      }
    };
  }

  get connected(): boolean {
    return this.up && !this.over;
  }

  // True when taken; false when the stream's queue is full (wait for `writable`).
  // NOT_CONNECTED before `connected` or once over.
  send(stream: number, data: Uint8Array): boolean {
    const channel = this.channels[stream];
    if (!channel) throw new SwitchboardError('INVALID_ARGUMENT', `no stream ${stream} toward ${this.what}`);
    if (!this.up || this.over || channel.readyState !== 'open') {
      throw new SwitchboardError(
        'NOT_CONNECTED',
        this.over ? `the connection to ${this.what} is closed` : `the connection to ${this.what} is not up yet`,
      );
    }
    if (channel.bufferedAmount > 0 && channel.bufferedAmount + data.byteLength > HIGH_WATER_MARK) {
      return false;
    }
    try {
      channel.send(data as Uint8Array<ArrayBuffer>);
    } catch (e) {
      // A full queue throws OperationError in Chromium; anything else means the channel died.
      if (e instanceof DOMException && e.name === 'OperationError' && channel.readyState === 'open') {
        return false;
      }
      this.fail(`sending to ${this.what} failed: ${String(e)}`);
      throw new SwitchboardError('NOT_CONNECTED', `the connection to ${this.what} is closed`);
    }
    return true;
  }

  // Bytes handed to the browser and not yet sent, every stream together.
  get bufferedAmount(): number {
    let total = 0;
    for (const channel of this.channels) total += channel.bufferedAmount;
    return total;
  }

  // No handler runs after it.
  close(): void {
    if (this.over) return;
    this.over = true;
    this.detach();
    this.settled();
    this.pc.close();
  }

  // Up, closed or failed: for subclasses' timers.
  protected settled(): void {}

  protected fail(why: string): void {
    if (this.over) return;
    this.over = true;
    this.detach();
    this.settled();
    this.pc.close();
    this.handlers.failed(new SwitchboardError('NOT_CONNECTED', why));
  }

  private openChannel(spec: ChannelSpec, id: number): RTCDataChannel {
    const init: RTCDataChannelInit & { priority?: string } = {
      negotiated: true,
      id,
      ordered: !spec.lossy,
      // RTCPriorityType by DCEP value: low 256 (normal), medium 512 (high).
      priority: spec.high ? 'medium' : 'low',
    };
    if (spec.lossy) init.maxRetransmits = 0;
    const channel = this.pc.createDataChannel(spec.label, init);
    channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = LOW_WATER_MARK;
    channel.onopen = () => {
      if (this.over || ++this.opened < this.channels.length) return;
      this.up = true;
      this.settled();
      this.handlers.connected();
    };
    channel.onmessage = (event: MessageEvent) => {
      if (this.over || !this.up || !(event.data instanceof ArrayBuffer)) return;
      this.handlers.message(id, new Uint8Array(event.data));
    };
    channel.onbufferedamountlow = () => {
      if (this.up && !this.over) this.handlers.writable();
    };
    channel.onclose = () => this.fail(`the ${spec.label} channel to ${this.what} closed`);
    return channel;
  }

  private detach(): void {
    this.pc.onconnectionstatechange = null;
    for (const channel of this.channels) {
      channel.onopen = null;
      channel.onmessage = null;
      channel.onbufferedamountlow = null;
      channel.onclose = null;
    }
  }
}
