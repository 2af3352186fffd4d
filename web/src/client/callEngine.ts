// The machinery behind a Call (the twin of src/client/call_impl.cpp): it drives one
// participant's core DataChannelEndpoint over a CallTransport.
//
//   - a flush loop polls the endpoint into transport messages (at most 64 KiB each) while
//     the transport takes them; one it refuses waits, and `writable` resumes the loop;
//   - a timer follows the endpoint's nextWakeup (pacing, reassembly and idle expiry);
//   - senders' waiting sendMessage calls are admitted, in order, as their queues drain;
//     each sender's line holds at most its bufferLimit of bytes (BUFFER_FULL past it);
//   - the client-side rate limit holds sends on the server path to the server's limit;
//   - leave() lets queued data go for up to 2 s, then sends `leave`;
//   - while the transport reconnects, the flush waits (messages queue in their senders),
//     and a rejoin that was not resumed rebuilds the roster and readdresses the senders
//     (DataChannelEndpoint.rejoin), as src/client/call_impl.cpp does;
//   - with end-to-end encryption, every message waits in its sender's line while it is
//     sealed (WebCrypto is asynchronous), one at a time per sender, with the sequence
//     number it will get; the endpoint opens what arrives, in order per receiver.
//
// Everything runs on the page's event loop; listeners are called after the endpoint's
// state is settled, never from inside the endpoint.

import { DataChannelEndpoint } from '../core/endpoint.js';
import { SwitchboardError } from '../core/errors.js';
import { durableMessagesIn } from '../core/pathSwitch.js';
import { LARGEST_MAX_MESSAGE_SIZE, type Identity, type ParticipantId, type SenderOptions } from '../core/options.js';
import { RateLimit } from '../core/rateLimit.js';
import type { ReceiverChannel } from '../core/receiverChannel.js';
import type { SenderChannel } from '../core/senderChannel.js';
import type { TrafficClass } from '../core/trafficClass.js';
import { CallTransport, type Rejoined, type TransportConfig } from './callTransport.js';
import { E2eeCipher } from './e2eeCipher.js';
import { E2eeKeys } from './e2eeKeys.js';
import {
  DataChannelFeature,
  DataChannelReceiver,
  DataChannelSender,
  type DataChannelHost,
} from './dataChannel.js';
import { Emitter } from './emitter.js';
import type { ErrorMessage, JoinedMessage, ParticipantEntry, ParticipantLeftMessage } from './signaling.js';

const MAX_TRANSPORT_MESSAGE = 64 * 1024;
// How long leave() lets queued messages and close notices drain before it hangs up.
const LEAVE_DRAIN_MS = 2000;
const DRAIN_CHECK_MS = 5;

export interface ParticipantInfo {
  identity: Identity;
  displayName: string;
}

export interface TransportInfo {
  mode: 'server' | 'p2p';
  peer?: ParticipantInfo;  // p2p: the other participant
}

// The call's connection to the server (C++ ConnectionState).
export type ConnectionState = 'connected' | 'reconnecting' | 'disconnected';

// What `connectionStateChanged` says (C++ ConnectionStateChangedEvent).
export interface ConnectionStateChangedEvent {
  state: ConnectionState;
  // reconnecting and disconnected: what happened.
  reason?: SwitchboardError;
  // connected after reconnecting. Resumed: the server had kept this participant's session,
  // so identity, senders and receivers carried on and no durable message was lost or
  // duplicated either way. Not resumed: the call was joined afresh (the server restarted or
  // the grace period ran out): the others' receivers closed (new ones come as they send
  // again), the senders carry on (same channel ids, options, recipients, numbering), and
  // durable messages may have been lost in the gap, both ways.
  resumed: boolean;
  // Not resumed: the durable messages this participant had sent that the server had not
  // confirmed taking in; they are lost. (A server that crashed may also have lost messages
  // it had confirmed but not yet delivered.)
  unconfirmedMessageCount: number;
}

export type CallEvents = {
  participantJoined: [participant: ParticipantInfo];
  participantLeft: [participant: ParticipantInfo];
  // Our own messages changed path: direct to the peer, or through the server.
  transportChanged: [transport: TransportInfo];
  // The call is over without leave(): the server disconnected us, or the connection failed
  // and reconnecting gave up (or JoinOptions.reconnectTimeout is 0).
  disconnected: [error: SwitchboardError];
  // reconnecting (the connection to the server was lost; joining again, messages queue
  // meanwhile), connected again (resumed or not), disconnected.
  connectionStateChanged: [event: ConnectionStateChangedEvent];
};

type State = 'joining' | 'connected' | 'disconnected' | 'leaving' | 'left';

// A sendMessage waiting for room in its sender's queue (or, with E2EE, to be sealed).
interface Waiter {
  data: Uint8Array;
  resolve: (sequence: number) => void;
  reject: (error: SwitchboardError) => void;
  sealing?: boolean;
  sealed?: { sequence: number; bytes: Uint8Array }; // for that sequence number only
}

// One sender's waiting sendMessage calls, oldest first, and the bytes they hold.
interface Line {
  waiters: Waiter[];
  bytes: number;
}

function dequeue(line: Line): Waiter {
  const waiter = line.waiters.shift()!;
  line.bytes -= waiter.data.length;
  return waiter;
}

const now = (): number => performance.now();

function notConnected(): SwitchboardError {
  return new SwitchboardError('NOT_CONNECTED', 'the call is over: it was left or disconnected');
}

export class CallEngine implements DataChannelHost {
  readonly events = new Emitter<CallEvents>();
  readonly feature: DataChannelFeature;
  callId: string;
  self: ParticipantInfo = { identity: '', displayName: '' };
  transportInfo: TransportInfo = { mode: 'server' };
  private toldTransport: TransportInfo = { mode: 'server' };  // what transportChanged last said

  private state: State = 'joining';
  // Connected, but the transport is joining again (its `reconnecting`).
  private reconnecting = false;
  // What `connected` reports after a rejoin.
  private reconnected: ConnectionStateChangedEvent | undefined;
  private readonly transport: CallTransport;
  private transportUp = false;
  private endpoint: DataChannelEndpoint | undefined;
  private rateLimit = new RateLimit();
  private readonly senders = new Map<number, DataChannelSender>();  // open ones, by channel
  private readonly waiters = new Map<DataChannelSender, Line>();
  private readonly receivers = new Map<ReceiverChannel, DataChannelReceiver>();
  // Closed senders whose queue and close notice may not have gone out yet.
  private closing: SenderChannel[] = [];
  // What the endpoint reported during a call into it, for the listeners after it.
  private pendingEvents: Array<() => void> = [];
  private blocked: { cls: TrafficClass; bytes: Uint8Array } | undefined;  // refused by the transport
  private flushQueued = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt: number | undefined;
  private drainDeadline = 0;
  private joinSettled: { resolve: () => void; reject: (e: SwitchboardError) => void } | undefined;
  private leftPromise: Promise<void> | undefined;
  private resolveLeft: (() => void) | undefined;
  private e2eeKeys: E2eeKeys | undefined;
  private cipher: E2eeCipher | undefined;  // once joined with e2ee

  constructor(config: TransportConfig, e2ee?: E2eeKeys) {
    this.callId = config.callId;
    this.e2eeKeys = e2ee;
    this.feature = new DataChannelFeature(this);
    this.transport = new CallTransport(config, {
      joined: (j) => this.onJoined(j),
      connected: () => this.onConnected(),
      reconnecting: (e) => this.onReconnecting(e),
      rejoined: (j, r) => this.onRejoined(j, r),
      participantJoined: (p) => this.onParticipantJoined(p),
      participantLeft: (l) => this.onParticipantLeft(l),
      data: (d) => this.onData(undefined, d),
      peerData: (peer, d) => this.onData(peer, d),
      error: (e) => this.onServerError(e),
      writable: () => this.flush(),
      closed: (e) => this.onClosed(e),
      pathChanged: (peer) => this.onPathChanged(peer),
    });
  }

  // Resolves once the data connection is up; rejects with why the join failed.
  join(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.joinSettled = { resolve, reject };
      this.transport.start();
    });
  }

  get participants(): ParticipantInfo[] {
    if (!this.endpoint) return [];
    const self = this.endpoint.self;
    return this.endpoint.roster
      .participants()
      .filter((p) => p.id !== self)
      .map((p) => ({ identity: p.identity, displayName: p.displayName }));
  }

  // False while reconnecting.
  get connected(): boolean {
    return this.state === 'connected' && !this.reconnecting;
  }

  get connectionState(): ConnectionState {
    if (this.state === 'connected' || this.state === 'leaving') return this.reconnecting ? 'reconnecting' : 'connected';
    return 'disconnected';
  }

  // Messages already given to sendMessage may still go in.
  private get sending(): boolean {
    return this.state === 'connected' || this.state === 'leaving';
  }

  // ---- Joining ----

  private onJoined(joined: JoinedMessage): void {
    if (this.state !== 'joining' || this.endpoint) return;
    const t = now();
    const maxMessageSize = joined.maxMessageSize > 0 ? Math.min(joined.maxMessageSize, LARGEST_MAX_MESSAGE_SIZE) : undefined;
    this.endpoint = new DataChannelEndpoint(joined.participantId, maxMessageSize ? { maxMessageSize } : {});
    this.endpoint.setEvents({
      receiverCreated: (r) => this.onReceiverCreated(r),
      messageReady: (r) => this.onMessageReady(r),
      receiverClosed: (r) => this.onReceiverClosed(r),
      messageRejected: (r, _sequence, error) => this.onMessageRejected(r, error),
      settled: () => this.onEndpointSettled(),
    });
    this.callId = joined.call;
    if (this.e2eeKeys) {
      this.cipher = new E2eeCipher(this.e2eeKeys, joined.call, joined.identity);
      this.endpoint.setPayloadCipher(this.cipher);
    }
    this.self = { identity: joined.identity, displayName: joined.displayName };
    this.endpoint.participantJoined(
      { id: joined.participantId, identity: joined.identity, displayName: joined.displayName },
      t,
    );
    for (const p of joined.participants) {
      this.endpoint.participantJoined({ id: p.participantId, identity: p.identity, displayName: p.displayName }, t);
    }
    this.rateLimit = new RateLimit(joined.rateLimitBytesPerSecond ?? 0, joined.rateLimitMessagesPerSecond ?? 0, 1, t);
  }

  private onConnected(): void {
    if (this.state === 'connected' && this.reconnecting) {
      this.reconnecting = false;
      const back = this.reconnected ?? { state: 'connected', resumed: false, unconfirmedMessageCount: 0 };
      this.reconnected = undefined;
      this.transportUp = true;
      this.flush();
      this.events.emit('connectionStateChanged', back);
      return;
    }
    if (this.state !== 'joining') return;
    if (!this.endpoint) {
      this.onClosed(new SwitchboardError('INTERNAL', 'data connection up before the server admitted us'));
      return;
    }
    this.state = 'connected';
    this.transportUp = true;
    this.joinSettled?.resolve();
    this.joinSettled = undefined;
    // The path may have changed while joining, before anyone could listen: tell the
    // listeners registered right after `await join()`, on a later task.
    setTimeout(() => {
      if (this.state === 'connected') this.emitTransport();
    }, 0);
    this.flush();
  }

  // ---- Reconnecting ----

  private onReconnecting(error: SwitchboardError): void {
    if (this.state !== 'connected') return;
    this.reconnecting = true;
    // The flush waits; messages queue in their senders (past their bound sendMessage waits,
    // for as many bytes again; then BUFFER_FULL).
    this.transportUp = false;
    this.events.emit('connectionStateChanged', {
      state: 'reconnecting',
      reason: error,
      resumed: false,
      unconfirmedMessageCount: 0,
    });
  }

  private onRejoined(joined: JoinedMessage, rejoined: Rejoined): void {
    const endpoint = this.endpoint;
    if (!endpoint || this.state !== 'connected') return;
    const event: ConnectionStateChangedEvent = {
      state: 'connected',
      resumed: rejoined.resumed,
      unconfirmedMessageCount: rejoined.unconfirmed,
    };
    this.reconnected = event;
    if (rejoined.resumed) return;
    // A batch polled for the old connection carries its participant ids: it is dropped.
    if (this.blocked) {
      if (this.blocked.cls.reliability === 'Durable') event.unconfirmedMessageCount += durableMessagesIn(this.blocked.bytes);
      this.blocked = undefined;
    }
    const self = endpoint.self;
    const before = new Map<Identity, ParticipantInfo>();
    for (const p of endpoint.roster.participants()) {
      if (p.id !== self) before.set(p.identity, { identity: p.identity, displayName: p.displayName });
    }
    const after = new Set(joined.participants.map((p) => p.identity));
    const arrived = joined.participants
      .filter((p) => !before.has(p.identity))
      .map((p) => ({ identity: p.identity, displayName: p.displayName }));
    const gone = [...before.values()].filter((p) => !after.has(p.identity));
    const others = joined.participants.map((p) => ({ id: p.participantId, identity: p.identity, displayName: p.displayName }));
    others.push({ id: joined.participantId, identity: joined.identity, displayName: joined.displayName });
    event.unconfirmedMessageCount += endpoint.rejoin(joined.participantId, others);
    this.transportInfo = { mode: 'server' };
    this.dispatch(this.takeEvents());  // the old receivers closed
    for (const p of gone) {
      if (this.state === 'connected') this.events.emit('participantLeft', p);
    }
    for (const p of arrived) {
      if (this.state === 'connected') this.events.emit('participantJoined', p);
    }
  }

  // ---- Roster ----

  private onParticipantJoined(info: ParticipantEntry): void {
    if (!this.endpoint || this.state === 'left') return;
    this.endpoint.participantJoined(
      { id: info.participantId, identity: info.identity, displayName: info.displayName },
      now(),
    );
    const events = this.takeEvents();  // frames that overtook the announcement
    if (this.state === 'connected') {
      this.events.emit('participantJoined', { identity: info.identity, displayName: info.displayName });
    }
    this.dispatch(events);
    this.armTimer();
  }

  private onParticipantLeft(left: ParticipantLeftMessage): void {
    if (!this.endpoint || this.state === 'left') return;
    const p = this.endpoint.roster.find(left.participantId);
    this.endpoint.participantLeft(left.participantId);
    this.dispatch(this.takeEvents());  // its receivers close first
    if (this.state === 'connected' && p) {
      this.events.emit('participantLeft', { identity: p.identity, displayName: p.displayName });
    }
  }

  private onPathChanged(peer: ParticipantId | undefined): void {
    if (!this.endpoint || this.state === 'left') return;
    const info: TransportInfo = { mode: 'server' };
    if (peer !== undefined) {
      info.mode = 'p2p';
      const p = this.endpoint.roster.find(peer);
      if (p) info.peer = { identity: p.identity, displayName: p.displayName };
    }
    if (info.mode === this.transportInfo.mode && info.peer?.identity === this.transportInfo.peer?.identity) return;
    this.transportInfo = info;
    if (this.state === 'connected' || this.state === 'leaving') this.emitTransport();
  }

  // transportChanged, unless listeners were already told this path.
  private emitTransport(): void {
    const info = this.transportInfo;
    const told = this.toldTransport;
    if (info.mode === told.mode && info.peer?.identity === told.peer?.identity) return;
    this.toldTransport = info;
    this.events.emit('transportChanged', info);
  }

  // New keys for the messages sealed and opened from now on (rotation). Throws
  // SwitchboardError (INVALID_ARGUMENT) when the call was joined without `e2ee` or the keys
  // were derived from a passphrase for another call.
  setE2eeKeys(keys: E2eeKeys): void {
    if (!(keys instanceof E2eeKeys)) {
      throw new SwitchboardError('INVALID_ARGUMENT', 'setE2eeKeys takes E2eeKeys (E2eeKeys.parse or E2eeKeys.fromKeys)');
    }
    if (keys.callId !== '' && keys.callId !== this.callId) {
      throw new SwitchboardError('INVALID_ARGUMENT', `the E2EE keys were derived for call ${keys.callId}, not ${this.callId}`);
    }
    if (!this.e2eeKeys) {
      throw new SwitchboardError('INVALID_ARGUMENT', 'end-to-end encryption is off in this call: join with the `e2ee` option');
    }
    this.e2eeKeys = keys;
    this.cipher?.setKeys(keys);
  }

  // ---- Senders (DataChannelHost) ----

  createSender(options: SenderOptions | undefined): DataChannelSender {
    if (this.state !== 'connected' || !this.endpoint) throw notConnected();
    const core = this.endpoint.createSender(options, now());
    const sender = new DataChannelSender(this, core);
    const replaced = this.senders.get(core.channelId);
    if (replaced) this.retire(replaced, 'its channel id was taken by a new sender');
    this.senders.set(core.channelId, sender);
    this.requestFlush();
    return sender;
  }

  sendMessage(sender: DataChannelSender, data: Uint8Array): Promise<number> {
    if (!(data instanceof Uint8Array)) {
      return Promise.reject(new SwitchboardError('INVALID_ARGUMENT', 'sendMessage takes a Uint8Array'));
    }
    if (this.state !== 'connected') return Promise.reject(notConnected());
    if (this.cipher) {
      // Sealed one after another, in the sender's line, whatever the room.
      const promise = this.enqueue(sender, data);
      this.admit(sender);
      return promise;
    }
    if (this.waiters.has(sender)) {
      // Behind earlier waiting messages, so the order holds.
      return this.enqueue(sender, data);
    }
    try {
      return Promise.resolve(this.trySend(sender, data));
    } catch (e) {
      if (!(e instanceof SwitchboardError) || e.code !== 'BUFFER_FULL') return Promise.reject(e);
    }
    return this.enqueue(sender, data);
  }

  // Puts a message at the end of its sender's line. The line holds at most the sender's
  // bufferLimit of bytes, so an app that does not await sendMessage cannot grow it without
  // bound: past it the message is refused at once, with no sequence number (the C++ SDK
  // answers BUFFER_FULL too). The first in line is always taken, whatever its size; one
  // too large to send at all fails in its turn with MESSAGE_TOO_LARGE, as it always did.
  private enqueue(sender: DataChannelSender, data: Uint8Array): Promise<number> {
    let line = this.waiters.get(sender);
    const limit = sender.core.bufferLimit;
    if (
      line &&
      line.waiters.length > 0 &&
      line.bytes + data.length > limit &&
      data.length <= this.senderMaxMessageSize(sender)
    ) {
      return Promise.reject(
        new SwitchboardError(
          'BUFFER_FULL',
          `sender on channel ${sender.channelId} has ${line.bytes} bytes waiting for room (its buffer limit is ${limit}); await sendMessage before sending more, or send again once bufferedAmount falls`,
        ),
      );
    }
    if (!line) this.waiters.set(sender, (line = { waiters: [], bytes: 0 }));
    line.bytes += data.length;
    const waiters = line.waiters;
    return new Promise((resolve, reject) => waiters.push({ data, resolve, reject }));
  }

  // One message into the sender's queue, or a SwitchboardError (BUFFER_FULL: no room yet).
  // While leaving, messages given to sendMessage before leave() still go in (and out, as
  // far as the 2 s allow): one being sealed is not lost to the timing of WebCrypto.
  private trySend(sender: DataChannelSender, data: Uint8Array): number {
    if (!this.sending || !this.endpoint) throw notConnected();
    const core = sender.core;
    // The sender's own checks come first (closed, empty, too large); the rate limit is
    // only charged for a message that would otherwise be accepted.
    // A full queue is not charged either: durable waits for room, lossy drops the message.
    const queues =
      !core.closed && data.length > 0 && data.length <= core.maxMessageSize && core.hasRoomFor(data.length);
    // The limit is the server's: messages that go straight to the peer do not count.
    const charged = queues && this.transportInfo.mode !== 'p2p';
    if (charged && !this.rateLimit.allows(data.length, now())) {
      throw new SwitchboardError('TRAFFIC_LIMITED', "over the call's rate limit; the message was not sent, retry later");
    }
    const sequence = this.endpoint.send(core, data);
    if (charged) this.rateLimit.take(data.length);
    this.requestFlush();
    return sequence;
  }

  // Waiting messages go in, in order, as far as their senders' queues have room.
  private admitWaiters(): void {
    for (const sender of [...this.waiters.keys()]) this.admit(sender);
  }

  private admit(sender: DataChannelSender): void {
    const line = this.waiters.get(sender);
    if (!line) return;
    while (line.waiters.length > 0) {
      const waiter = line.waiters[0]!;
      try {
        let data = waiter.data;
        if (this.cipher) {
          if (waiter.sealing) break;  // seal() settles, then admits again
          // Sealed for another sequence number (cannot happen while sends are in line;
          // kept honest anyway): seal again.
          if (waiter.sealed?.sequence !== sender.core.nextSequence) {
            this.seal(sender, waiter, this.cipher);
            break;
          }
          data = waiter.sealed.bytes;
        }
        const sequence = this.trySend(sender, data);
        dequeue(line);
        waiter.resolve(sequence);
      } catch (e) {
        if (e instanceof SwitchboardError && e.code === 'BUFFER_FULL') break;
        dequeue(line);
        waiter.reject(e instanceof SwitchboardError ? e : new SwitchboardError('INTERNAL', String(e)));
      }
    }
    if (line.waiters.length === 0 && this.waiters.get(sender) === line) this.waiters.delete(sender);
  }

  // Starts sealing the first message in the sender's line for the sequence number it will
  // get; throws SwitchboardError for a message the sender would refuse anyway, before any
  // cryptography (so the user sees the plaintext limit, not the sealed one).
  private seal(sender: DataChannelSender, waiter: Waiter, cipher: E2eeCipher): void {
    if (!this.sending || !this.endpoint) throw notConnected();
    const core = sender.core;
    if (core.closed) throw new SwitchboardError('SENDER_CLOSED', `sender on channel ${core.channelId} is closed`);
    if (waiter.data.length === 0) throw new SwitchboardError('MESSAGE_EMPTY', 'a message needs at least one byte');
    const limit = this.endpoint.maxMessageSize(core);
    if (waiter.data.length > limit) {
      throw new SwitchboardError(
        'MESSAGE_TOO_LARGE',
        `message of ${waiter.data.length} bytes exceeds maxMessageSize ${limit} (the call's ${core.maxMessageSize} less ${cipher.overhead} bytes of end-to-end encryption)`,
      );
    }
    const sequence = core.nextSequence;
    waiter.sealing = true;
    waiter.sealed = undefined;
    cipher.seal(core.channelId, sequence, waiter.data).then(
      (bytes) => {
        waiter.sealing = false;
        waiter.sealed = { sequence, bytes };
        this.admit(sender);  // a waiter already rejected (closed, left) is no longer in line
      },
      (e: unknown) => {
        waiter.sealing = false;
        const line = this.waiters.get(sender);
        if (line?.waiters[0] !== waiter) return;
        dequeue(line);
        waiter.reject(e instanceof SwitchboardError ? e : new SwitchboardError('INTERNAL', `sealing failed: ${String(e)}`));
        this.admit(sender);
      },
    );
  }

  private rejectWaiters(sender: DataChannelSender, error: SwitchboardError): void {
    const line = this.waiters.get(sender);
    this.waiters.delete(sender);
    for (const waiter of line?.waiters ?? []) waiter.reject(error);
  }

  setParticipants(sender: DataChannelSender, participants: readonly Identity[]): void {
    if (!this.endpoint) throw notConnected();
    this.endpoint.setParticipants(sender.core, participants);
  }

  closeSender(sender: DataChannelSender): void {
    if (sender.core.closed || !this.endpoint) return;
    this.retire(sender, `the sender on channel ${sender.channelId} is closed`);
    this.endpoint.close(sender.core);
    if (this.senders.get(sender.channelId) === sender) this.senders.delete(sender.channelId);
    if (this.state === 'connected' || this.state === 'leaving') this.requestFlush();
  }

  // A sender closed (or replaced): what still waits in sendMessage is refused; its queue
  // drains before leave() hangs up.
  private retire(sender: DataChannelSender, why: string): void {
    this.rejectWaiters(sender, new SwitchboardError('SENDER_CLOSED', why));
    this.closing = this.closing.filter((c) => !c.finished);
    this.closing.push(sender.core);
  }

  senderMaxMessageSize(sender: DataChannelSender): number {
    return this.endpoint ? this.endpoint.maxMessageSize(sender.core) : sender.core.maxMessageSize;
  }

  senderBufferedAmount(sender: DataChannelSender): number {
    return sender.core.bufferedAmount + (this.waiters.get(sender)?.bytes ?? 0);
  }

  private onServerError(error: ErrorMessage): void {
    if (error.channelId === undefined || this.state !== 'connected') return;
    this.senders.get(error.channelId)?.events.emit('error', new SwitchboardError(error.code, error.message));
  }

  // ---- Receivers ----

  private onReceiverCreated(core: ReceiverChannel): void {
    const name = this.endpoint?.roster.find(core.sender)?.displayName ?? '';
    const receiver = new DataChannelReceiver(core, name);
    this.receivers.set(core, receiver);
    this.pendingEvents.push(() => this.feature.events.emit('dataChannelReceiverCreated', receiver));
  }

  private onMessageReady(core: ReceiverChannel): void {
    const receiver = this.receivers.get(core);
    if (receiver) this.pendingEvents.push(() => receiver.events.emit('messageReady'));
  }

  private onMessageRejected(core: ReceiverChannel, error: SwitchboardError): void {
    const receiver = this.receivers.get(core);
    if (receiver) this.pendingEvents.push(() => receiver.events.emit('error', error));
  }

  // Messages finished opening (E2EE): what they reported goes to the listeners now.
  private onEndpointSettled(): void {
    if (!this.endpoint || this.state === 'left') return;
    this.dispatch(this.takeEvents());
    this.armTimer();
  }

  private onReceiverClosed(core: ReceiverChannel): void {
    const receiver = this.receivers.get(core);
    if (!receiver) return;
    this.receivers.delete(core);
    this.pendingEvents.push(() => receiver.events.emit('close', core.closeReason ?? 'sender_closed'));
  }

  private takeEvents(): Array<() => void> {
    const events = this.pendingEvents;
    this.pendingEvents = [];
    return events;
  }

  private dispatch(events: Array<() => void>): void {
    for (const event of events) {
      if (this.state === 'left') return;
      event();
    }
  }

  private onData(peer: ParticipantId | undefined, data: Uint8Array): void {
    if (!this.endpoint || this.state === 'left') return;
    // A malformed batch is the server's (or a broken peer's) bug; the endpoint counts it.
    if (peer === undefined) this.endpoint.ingest(data, now());
    else this.endpoint.ingestFrom(peer, data, now());
    this.dispatch(this.takeEvents());
    this.armTimer();
  }

  // ---- The data path ----

  private requestFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    if (!this.transportUp || !this.endpoint) return;
    for (;;) {
      if (this.blocked) {
        let taken: boolean;
        try {
          taken = this.transport.send(this.blocked.cls, this.blocked.bytes);
        } catch {
          this.blocked = undefined;  // the link is going down; `closed` follows
          break;
        }
        if (!taken) break;  // `writable` resumes
        this.blocked = undefined;
      }
      const message = this.endpoint.poll(now(), MAX_TRANSPORT_MESSAGE);
      if (!message) break;
      this.blocked = message;
    }
    this.admitWaiters();
    this.armTimer();
  }

  private armTimer(): void {
    if (!this.endpoint || this.state === 'left' || this.state === 'disconnected') return;
    const t = now();
    let next = this.endpoint.nextWakeup(t);
    if (next === undefined) {
      this.cancelTimer();
      return;
    }
    // A sender ready now means the transport refused more: `writable` wakes us, so the
    // timer need not spin.
    next = Math.max(next, t + (this.blocked ? 100 : 1));
    if (this.timerAt !== undefined && this.timerAt <= next && this.timerAt > t) return;  // an earlier wake is set
    this.cancelTimer();
    this.timerAt = next;
    this.timer = setTimeout(() => this.onTimer(), next - t);
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = undefined;
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = undefined;
    if (!this.endpoint || this.state === 'left') return;
    this.endpoint.onTimer(now());
    this.dispatch(this.takeEvents());
    this.flush();  // paced senders may go now; re-arms the timer
  }

  // ---- Disconnection and leaving ----

  private onClosed(error: SwitchboardError): void {
    const was = this.state;
    if (was === 'disconnected' || was === 'left') return;
    this.transportUp = false;
    this.blocked = undefined;
    this.cancelTimer();
    if (was === 'leaving') {
      this.drainDeadline = now();  // nothing more will drain
      return;
    }
    this.state = 'disconnected';
    this.reconnecting = false;
    this.transport.leave();  // silences it; nothing is sent on a closed link
    for (const sender of [...this.waiters.keys()]) {
      this.rejectWaiters(sender, new SwitchboardError('NOT_CONNECTED', `the call was disconnected: ${error.message}`));
    }
    if (was === 'joining') {
      this.joinSettled?.reject(error);
      this.joinSettled = undefined;
      return;
    }
    const notice = new SwitchboardError('NOT_CONNECTED', `the call was disconnected: ${error.message}`);
    for (const sender of this.senders.values()) sender.events.emit('error', notice);
    this.events.emit('disconnected', error);
    if (this.state === 'disconnected') {
      this.events.emit('connectionStateChanged', { state: 'disconnected', reason: error, resumed: false, unconfirmedMessageCount: 0 });
    }
  }

  // Lets what the senders queued go out (up to 2 s), then leaves. Sends no close notices:
  // the server's participant_left closes the others' receivers.
  leave(): Promise<void> {
    if (this.leftPromise) return this.leftPromise;
    this.leftPromise = new Promise((resolve) => (this.resolveLeft = resolve));
    if (this.state === 'connected' && this.transportUp) {
      this.state = 'leaving';
      this.drainDeadline = now() + LEAVE_DRAIN_MS;
      this.flush();
      this.checkDrained();
    } else {
      if (this.state === 'joining') {
        this.joinSettled?.reject(new SwitchboardError('NOT_CONNECTED', 'the call was left before it was joined'));
        this.joinSettled = undefined;
      }
      this.finishLeave();
    }
    return this.leftPromise;
  }

  private checkDrained(): void {
    if (this.state !== 'leaving') return;
    let drained = !this.blocked && this.transport.bufferedAmount === 0;
    for (const sender of this.senders.values()) {
      if (sender.core.bufferedAmount > 0 || this.waiters.has(sender)) drained = false;
    }
    this.closing = this.closing.filter((c) => !c.finished);
    if (this.closing.length > 0) drained = false;
    if (!this.transportUp) drained = true;  // nothing more can go out
    if (drained || now() >= this.drainDeadline) {
      this.finishLeave();
      return;
    }
    setTimeout(() => {
      this.flush();
      this.checkDrained();
    }, DRAIN_CHECK_MS);
  }

  private finishLeave(): void {
    if (this.state === 'left') return;
    this.state = 'left';
    this.transportUp = false;
    this.cancelTimer();
    this.transport.leave();
    const error = notConnected();
    for (const sender of [...this.waiters.keys()]) this.rejectWaiters(sender, error);
    if (this.endpoint) {
      for (const sender of this.senders.values()) this.endpoint.close(sender.core);
    }
    this.senders.clear();
    this.receivers.clear();
    this.pendingEvents = [];
    this.events.removeAllListeners();
    this.feature.events.removeAllListeners();
    this.resolveLeft?.();
  }
}
