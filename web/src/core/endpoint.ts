// One participant's DataChannel state, with no I/O: the senders it created, the receivers
// it got, and the frames in between. The transport feeds it bytes (ingest) and drains its
// frames (poll); the SDK calls the rest. Single-threaded; times are milliseconds.

import { ByteWriter } from './bytes.js';
import { ChannelIdAllocator } from './channelIdAllocator.js';
import { SwitchboardError } from './errors.js';
import { decodeFrame, encodedFrameSize, FrameType, isPathControl, type DecodedFrame } from './frame.js';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  LARGEST_MAX_MESSAGE_SIZE,
  validateSenderOptions,
  type Identity,
  type ParticipantId,
  type ReceiverCloseReason,
  type Reliability,
  type SenderOptions,
} from './options.js';
import type { PayloadCipher } from './payloadCipher.js';
import { durableMessagesIn } from './pathSwitch.js';
import { Reassembler } from './reassembler.js';
import { ReceiverChannel } from './receiverChannel.js';
import { Roster, type Participant } from './roster.js';
import { restampFrame } from './routing.js';
import { FrameScheduler } from './scheduler.js';
import { SenderChannel } from './senderChannel.js';
import { sameClass, type TrafficClass } from './trafficClass.js';

export interface EndpointConfig {
  maxMessageSize: number; // up to 16 MiB
  sendBufferLimit: number; // per sender
  receiveBufferLimit: number; // unread bytes per receiver
  fragmentSize: number;
  receiverIdleTimeoutMs: number;
  seed: number; // for channel id allocation; 0 = random
}

export const DEFAULT_ENDPOINT_CONFIG: Readonly<EndpointConfig> = {
  maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE,
  sendBufferLimit: 4 * 1024 * 1024,
  receiveBufferLimit: 8 * 1024 * 1024,
  fragmentSize: 16 * 1024,
  receiverIdleTimeoutMs: 120_000,
  seed: 0,
};

// Throws SwitchboardError (INVALID_ARGUMENT).
export function validateEndpointConfig(c: EndpointConfig): void {
  const bad = (what: string): never => {
    throw new SwitchboardError('INVALID_ARGUMENT', what);
  };
  if (!Number.isInteger(c.maxMessageSize) || c.maxMessageSize < 1 || c.maxMessageSize > LARGEST_MAX_MESSAGE_SIZE) {
    bad('maxMessageSize must be 1..16777216 bytes');
  }
  if (!Number.isInteger(c.fragmentSize) || c.fragmentSize < 1024 || c.fragmentSize > 64 * 1024) {
    bad('fragment size must be 1 KiB..64 KiB');
  }
  if (!(c.sendBufferLimit > 0) || !(c.receiveBufferLimit > 0)) bad('buffer limits must be positive');
  if (!(c.receiverIdleTimeoutMs > 0)) bad('receiver idle timeout must be positive');
}

export interface EndpointStats {
  messagesAccepted: number;
  messagesDelivered: number;
  lossyDroppedOnSend: number; // sender queue full
  lossyDroppedOnReceive: number; // receiver over its unread bound
  malformedFrames: number;
  messagesRejected: number; // the payload cipher could not open them
}

// Called synchronously from ingest, participantJoined (held frames), participantLeft and
// onTimer; with a payload cipher, messageReady, messageRejected and receiverClosed may also
// come later, when a message finished opening, and `settled` follows them.
export interface EndpointEvents {
  receiverCreated?: (receiver: ReceiverChannel) => void; // before its first message
  messageReady?: (receiver: ReceiverChannel) => void;
  receiverClosed?: (receiver: ReceiverChannel) => void;
  // A message the payload cipher could not open: dropped, never readable.
  messageRejected?: (receiver: ReceiverChannel, sequence: number, error: SwitchboardError) => void;
  // Events were reported outside any call into the endpoint (after opening finished).
  settled?: () => void;
}

// What poll hands the transport: frames of one class, back to back.
export interface TransportMessage {
  cls: TrafficClass;
  bytes: Uint8Array;
}

// Frames from a participant signaling has not announced yet wait, up to this many bytes.
const MAX_HELD_BYTES = 1024 * 1024;

function receiverKey(from: ParticipantId, channelId: number): number {
  return from * 65536 + channelId;
}

export class DataChannelEndpoint {
  private selfId: ParticipantId;
  readonly config: Readonly<EndpointConfig>;
  readonly roster = new Roster();
  readonly stats: EndpointStats = {
    messagesAccepted: 0,
    messagesDelivered: 0,
    lossyDroppedOnSend: 0,
    lossyDroppedOnReceive: 0,
    malformedFrames: 0,
    messagesRejected: 0,
  };
  private events: EndpointEvents = {};
  private cipher: PayloadCipher | undefined;
  // Receivers with messages still opening: the end of each one's chain of deliveries.
  private readonly opening = new Map<ReceiverChannel, Promise<void>>();
  private readonly channelIds: ChannelIdAllocator;
  private readonly senders = new Map<number, SenderChannel>();
  private readonly scheduler: FrameScheduler;
  private carry: TransportMessage | undefined; // polled but not yet taken
  private readonly reassembler = new Reassembler();
  private readonly receivers = new Map<number, ReceiverChannel>();
  private readonly held = new Map<ParticipantId, Uint8Array[]>();
  private heldBytes = 0;
  private readonly departed = new Set<ParticipantId>(); // ids are never reused in a call

  // Throws SwitchboardError for a bad config.
  constructor(self: ParticipantId, config: Partial<EndpointConfig> = {}) {
    const full = { ...DEFAULT_ENDPOINT_CONFIG, ...config };
    validateEndpointConfig(full);
    this.selfId = self;
    this.config = full;
    this.channelIds = new ChannelIdAllocator(full.seed);
    this.scheduler = new FrameScheduler(full.fragmentSize);
  }

  // This participant's id (a rejoin that was not resumed gives a new one).
  get self(): ParticipantId {
    return this.selfId;
  }

  setEvents(events: EndpointEvents): void {
    this.events = events;
  }

  // Opens every message received from now on (undefined: none). The SDK seals what it
  // sends itself, before send(), because sealing waits for WebCrypto; a sender's messages
  // may then hold maxMessageSize(sender) bytes before sealing.
  setPayloadCipher(cipher: PayloadCipher | undefined): void {
    this.cipher = cipher;
  }
  get payloadCipher(): PayloadCipher | undefined {
    return this.cipher;
  }
  // The largest message `sender` accepts from the user.
  maxMessageSize(sender: SenderChannel): number {
    return Math.max(0, sender.maxMessageSize - (this.cipher?.overhead ?? 0));
  }

  // ---- The call's participants, as signaling reports them.

  participantJoined(participant: Participant, now: number): void {
    this.roster.add(participant);
    const frames = this.held.get(participant.id);
    if (!frames) return;
    this.held.delete(participant.id);
    for (const raw of frames) {
      this.heldBytes -= raw.length;
      this.ingest(raw, now);
    }
  }

  participantLeft(id: ParticipantId): void {
    this.roster.remove(id);
    this.departed.add(id);
    this.reassembler.drop(id);
    const frames = this.held.get(id);
    if (frames) {
      for (const raw of frames) this.heldBytes -= raw.length;
      this.held.delete(id);
    }
    for (const receiver of [...this.receivers.values()]) {
      if (receiver.sender === id) this.closeReceiver(receiver, 'participant_left');
    }
  }

  // Joined again as a new participant `self` with these others (the server lost the old
  // session): every receiver closes (participant_left; new ones come as the others send
  // again), senders keep their options and numbering and their queued messages are
  // readdressed by identity (SenderChannel.rejoin). Returns the durable messages that
  // were dropped: frames polled for the old connection and not sent, and messages that
  // cannot be readdressed. (C++ DataChannelEndpoint::rejoin.)
  rejoin(self: ParticipantId, others: readonly Participant[]): number {
    const oldIdentities = new Map<ParticipantId, Identity>();
    for (const p of this.roster.participants()) oldIdentities.set(p.id, p.identity);
    for (const receiver of [...this.receivers.values()]) this.closeReceiver(receiver, 'participant_left');
    for (const id of oldIdentities.keys()) {
      this.reassembler.drop(id);
      this.roster.remove(id); // one by one: the roster's version keeps growing
    }
    this.held.clear();
    this.heldBytes = 0;
    this.departed.clear();
    this.selfId = self;
    for (const p of others) this.roster.add(p);
    let dropped = 0;
    if (this.carry) {
      if (this.carry.cls.reliability === 'Durable') dropped += durableMessagesIn(this.carry.bytes);
      this.carry = undefined;
    }
    const remap = (old: ParticipantId): ParticipantId | undefined => {
      const identity = oldIdentities.get(old);
      if (identity === undefined) return undefined;
      const now = this.roster.findIdentity(identity);
      if (!now || now.id === this.selfId) return undefined;
      return now.id;
    };
    // Every sender the scheduler holds: closed ones still draining included.
    for (const sender of this.scheduler.senders()) dropped += sender.rejoin(self, remap);
    return dropped;
  }

  // ---- Senders. Each method throws SwitchboardError.

  // Creating a sender on the channel id of an open sender closes that one first.
  createSender(options: SenderOptions | undefined, now: number): SenderChannel {
    const resolved = validateSenderOptions(options);
    const id = this.channelIds.acquire(resolved.channelId);
    const sender = new SenderChannel(
      id,
      resolved,
      {
        maxMessageSize: this.config.maxMessageSize,
        bufferLimit: this.config.sendBufferLimit,
        fragmentSize: this.config.fragmentSize,
      },
      this.selfId,
      now,
    );
    const old = this.senders.get(id);
    if (old) {
      old.close();
      sender.setPredecessor(old);
    }
    this.senders.set(id, sender);
    this.scheduler.add(sender);
    return sender;
  }

  // Returns the message's sequence number.
  send(sender: SenderChannel, data: Uint8Array): number {
    const droppedBefore = sender.droppedMessages;
    const sequence = sender.accept(data, this.roster);
    this.stats.messagesAccepted++;
    this.stats.lossyDroppedOnSend += sender.droppedMessages - droppedBefore;
    return sequence;
  }

  setParticipants(sender: SenderChannel, participants: readonly Identity[]): void {
    sender.setParticipants(participants);
  }

  close(sender: SenderChannel): void {
    if (sender.closed) return;
    sender.close();
    if (this.senders.get(sender.channelId) === sender) {
      this.senders.delete(sender.channelId);
      this.channelIds.release(sender.channelId);
    }
  }

  openSender(channelId: number): SenderChannel | undefined {
    return this.senders.get(channelId);
  }

  // ---- Transport side.

  // Frames of one traffic class, at most `maxBytes` unless the first frame alone is
  // larger; undefined when nothing may go now (see nextWakeup).
  poll(now: number, maxBytes: number): TransportMessage | undefined {
    const out = new ByteWriter(Math.min(maxBytes, 64 * 1024) + 64);
    let cls: TrafficClass | undefined;
    if (this.carry) {
      cls = this.carry.cls;
      out.bytes(this.carry.bytes);
      this.carry = undefined;
    }
    // Frames are written straight into `out`; the rare one that belongs to the next batch
    // (another class, or past maxBytes) is moved aside for the next poll.
    for (;;) {
      const start = out.length;
      const next = this.scheduler.next(now, out);
      if (!next) break;
      if (cls && (!sameClass(next, cls) || out.length > maxBytes)) {
        this.carry = { cls: next, bytes: out.copy(start) };
        out.truncate(start);
        break;
      }
      cls = next;
      if (out.length >= maxBytes) break;
    }
    return cls ? { cls, bytes: out.copy() } : undefined;
  }

  // One transport message from the server: one or more frames, each stamped with its
  // sender. Returns the error that rejected the rest of the message, if any.
  ingest(data: Uint8Array, now: number): SwitchboardError | undefined {
    return this.ingestFrames(data, undefined, now);
  }

  // The same from a direct (peer-to-peer) connection: every frame comes from `peer`, and
  // a frame naming another sender is refused.
  ingestFrom(peer: ParticipantId, data: Uint8Array, now: number): SwitchboardError | undefined {
    return this.ingestFrames(data, peer, now);
  }

  private ingestFrames(data: Uint8Array, peer: ParticipantId | undefined, now: number): SwitchboardError | undefined {
    let offset = 0;
    while (offset < data.length) {
      const decoded = decodeFrame(data, offset);
      if (!decoded.ok) {
        this.stats.malformedFrames++;
        return decoded.error;
      }
      const { frame, next } = decoded.value;
      offset = next;
      if (peer !== undefined) {
        if (frame.header.from !== undefined && frame.header.from !== peer) {
          this.stats.malformedFrames++;
          return new SwitchboardError('INVALID_ARGUMENT', 'frame from a direct peer names another sender');
        }
        frame.header.from = peer;
      }
      const error = this.ingestFrame(frame, now);
      if (error) {
        this.stats.malformedFrames++;
        return error;
      }
    }
    return undefined;
  }

  private ingestFrame(frame: DecodedFrame, now: number): SwitchboardError | undefined {
    const h = frame.header;
    // Path control belongs to the transport, which takes it out before the frames get
    // here; one that slips through changes nothing.
    if (isPathControl(h.type)) return undefined;
    if (h.from === undefined) return new SwitchboardError('INVALID_ARGUMENT', 'frame without a sender');
    const from = h.from;
    if (from === this.selfId) return undefined;
    if (!this.roster.contains(from)) {
      if (this.departed.has(from)) return undefined; // in flight when it left
      const size = encodedFrameSize(h, 0, frame.payload.length);
      if (this.heldBytes + size <= MAX_HELD_BYTES) {
        const stamped = new ByteWriter(size);
        restampFrame(frame, from, stamped); // replayed later through ingest(), sender included
        this.heldBytes += size;
        let list = this.held.get(from);
        if (!list) this.held.set(from, (list = []));
        list.push(stamped.copy());
      }
      return undefined;
    }
    if (h.type === FrameType.Close) {
      this.reassembler.drop(from, h.channelId);
      const receiver = this.receivers.get(receiverKey(from, h.channelId));
      if (receiver) this.closeReceiver(receiver, 'sender_closed');
      return undefined;
    }
    const whole = this.reassembler.add(from, frame, now);
    if (whole) this.deliver(from, frame, whole, now);
    return undefined;
  }

  private deliver(from: ParticipantId, frame: DecodedFrame, data: Uint8Array, now: number): void {
    const h = frame.header;
    const key = receiverKey(from, h.channelId);
    let receiver = this.receivers.get(key);
    if (!receiver) {
      const identity = this.roster.find(from)?.identity ?? '';
      receiver = new ReceiverChannel(from, identity, h.channelId, this.config.receiveBufferLimit, now);
      this.receivers.set(key, receiver);
      this.events.receiverCreated?.(receiver);
    }
    // The callback may have closed it; the message still goes to the object it saw.
    if (!this.cipher) {
      this.push(receiver, h.sequence, h.reliability, data, now);
      return;
    }
    // Opening starts now, in parallel with the receiver's earlier messages, but each
    // outcome waits for theirs: the receiver sees its messages in arrival order.
    const opened = this.cipher.open(receiver.senderIdentity, h.channelId, h.sequence, data).then(
      (plaintext) => ({ plaintext, error: undefined }),
      (error: unknown) => ({ plaintext: undefined, error }),
    );
    const target = receiver;
    this.after(receiver, async () => {
      const { plaintext, error } = await opened;
      if (plaintext) {
        this.push(target, h.sequence, h.reliability, plaintext, now);
      } else {
        this.stats.messagesRejected++;
        const why =
          error instanceof SwitchboardError
            ? error
            : new SwitchboardError('DECRYPTION_FAILED', `message ${h.sequence} on channel ${h.channelId} could not be opened: ${String(error)}`);
        this.events.messageRejected?.(target, h.sequence, why);
      }
    });
  }

  private push(receiver: ReceiverChannel, sequence: number, reliability: Reliability, data: Uint8Array, now: number): void {
    if (receiver.push({ sequenceNumber: sequence, data }, reliability, now)) {
      this.stats.messagesDelivered++;
      this.events.messageReady?.(receiver);
    } else {
      this.stats.lossyDroppedOnReceive++;
    }
  }

  // Runs `step` once the receiver's earlier messages finished opening, then tells the
  // owner (settled) that events came outside a call into the endpoint.
  private after(receiver: ReceiverChannel, step: () => void | Promise<void>): void {
    const tail = (this.opening.get(receiver) ?? Promise.resolve())
      .then(step)
      .catch(() => undefined) // a throwing listener must not stall the chain
      .then(() => {
        if (this.opening.get(receiver) === tail) this.opening.delete(receiver);
        this.events.settled?.();
      });
    this.opening.set(receiver, tail);
  }

  // Resolves once every message received so far finished opening (at once without a
  // payload cipher).
  async whenOpened(): Promise<void> {
    while (this.opening.size > 0) await Promise.all(this.opening.values());
  }

  private closeReceiver(receiver: ReceiverChannel, reason: ReceiverCloseReason): void {
    this.receivers.delete(receiverKey(receiver.sender, receiver.channelId));
    const close = (): void => {
      receiver.close(reason);
      this.events.receiverClosed?.(receiver);
    };
    // Messages still opening come first: the close is the receiver's last event.
    if (this.opening.has(receiver)) this.after(receiver, close);
    else close();
  }

  // A receiver holds more unread durable data than allowed: stop reading durable input so
  // that transport flow control pushes back on the sender.
  get durableInputPaused(): boolean {
    for (const receiver of this.receivers.values()) if (receiver.holdsBackDurable) return true;
    return false;
  }

  onTimer(now: number): void {
    this.reassembler.expire(now);
    for (const receiver of [...this.receivers.values()]) {
      if (now - receiver.lastActivity >= this.config.receiverIdleTimeoutMs) this.closeReceiver(receiver, 'idle');
    }
  }

  // When onTimer or poll next has something to do, if ever.
  nextWakeup(now: number): number | undefined {
    let earliest = this.scheduler.nextWakeup(now);
    const consider = (at: number | undefined): void => {
      if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
    };
    consider(this.reassembler.nextExpiry());
    for (const receiver of this.receivers.values()) {
      consider(receiver.lastActivity + this.config.receiverIdleTimeoutMs);
    }
    return earliest;
  }

  // Nothing waits to be polled.
  get idle(): boolean {
    return this.carry === undefined && this.scheduler.idle;
  }
}
