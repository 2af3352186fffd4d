// One open-until-closed sender: its options, sequence numbers, recipients and queue of
// messages not yet handed to the transport. Knows how to cut its queue into frames; the
// FrameScheduler decides when.

import type { ByteWriter } from './bytes.js';
import { SwitchboardError } from './errors.js';
import { FrameType, frameHeader, writeFrame, type FrameHeader } from './frame.js';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  MAX_RECIPIENTS,
  validateParticipants,
  type Identity,
  type ParticipantId,
  type Priority,
  type Reliability,
  type ResolvedSenderOptions,
} from './options.js';
import { Queue } from './queue.js';
import type { Roster } from './roster.js';
import { resolveRecipients } from './routing.js';
import { TokenBucket } from './tokenBucket.js';
import type { TrafficClass } from './trafficClass.js';

export interface SenderLimits {
  maxMessageSize: number;
  bufferLimit: number;
  fragmentSize: number;
}

export const DEFAULT_SENDER_LIMITS: Readonly<SenderLimits> = {
  maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE,
  bufferLimit: 4 * 1024 * 1024,
  fragmentSize: 16 * 1024,
};

interface Queued {
  sequence: number;
  to: readonly ParticipantId[]; // empty = everyone
  data: Uint8Array;
  sent: number;
}

export class SenderChannel {
  readonly channelId: number;
  readonly reliability: Reliability;
  readonly priority: Priority;
  readonly bitrateInKbps: number;
  private readonly limits: SenderLimits;
  private self: ParticipantId;
  private readonly pacer: TokenBucket | undefined;

  private recipients: Identity[];
  private resolved: readonly ParticipantId[] | undefined;
  private resolvedVersion = -1;

  private nextSeq = 1;
  private readonly queue = new Queue<Queued>();
  private buffered = 0;
  private dropped = 0;
  private isClosed = false;
  private closeSent = false;
  // Whom the close notice must reach: everyone once anything was broadcast.
  private sentToEveryone = false;
  private readonly sentTo = new Set<ParticipantId>();
  private predecessor: SenderChannel | undefined;

  constructor(channelId: number, options: ResolvedSenderOptions, limits: SenderLimits, self: ParticipantId, now: number) {
    this.channelId = channelId;
    this.reliability = options.reliability;
    this.priority = options.priority;
    this.bitrateInKbps = options.bitrateInKbps;
    // Any single message fits an empty queue, whatever the configured bound.
    this.limits = { ...limits, bufferLimit: Math.max(limits.bufferLimit, limits.maxMessageSize) };
    this.self = self;
    this.recipients = [...options.participants];
    if (this.bitrateInKbps > 0) {
      const rate = (this.bitrateInKbps * 1000) / 8;
      // A burst of 50 ms smooths scheduling jitter without letting the rate run ahead.
      this.pacer = new TokenBucket(rate, Math.max(rate * 0.05, 1), now);
    }
  }

  get trafficClass(): TrafficClass {
    return { reliability: this.reliability, priority: this.priority };
  }
  get maxMessageSize(): number {
    return this.limits.maxMessageSize;
  }
  // The most bytes the queue holds; a durable message that does not fit fails with
  // BUFFER_FULL, a lossy one is dropped.
  get bufferLimit(): number {
    return this.limits.bufferLimit;
  }
  get closed(): boolean {
    return this.isClosed;
  }
  // Bytes accepted but not yet handed to the transport.
  get bufferedAmount(): number {
    return this.buffered;
  }
  // Lossy messages dropped because the queue was full.
  get droppedMessages(): number {
    return this.dropped;
  }
  get participants(): readonly Identity[] {
    return this.recipients;
  }
  // The sequence number the next accepted message gets (a sender restored after a
  // reconnect continues its numbering).
  get nextSequence(): number {
    return this.nextSeq;
  }
  restoreSequence(next: number): void {
    this.nextSeq = next >>> 0;
  }
  // Whether a message of `bytes` fits the queue now (for callers that wait for room
  // instead of failing with BUFFER_FULL).
  hasRoomFor(bytes: number): boolean {
    return this.buffered + bytes <= this.limits.bufferLimit;
  }

  private closedError(): SwitchboardError {
    return new SwitchboardError('SENDER_CLOSED', `sender on channel ${this.channelId} is closed`);
  }

  // Checks a message against every rule, gives it the next sequence number and queues a
  // copy. Throws SwitchboardError.
  accept(data: Uint8Array, roster: Roster): number {
    if (this.isClosed) throw this.closedError();
    if (!(data instanceof Uint8Array)) throw new SwitchboardError('INVALID_ARGUMENT', 'a message is a Uint8Array');
    if (data.length === 0) throw new SwitchboardError('MESSAGE_EMPTY', 'a message needs at least one byte');
    if (data.length > this.limits.maxMessageSize) {
      throw new SwitchboardError(
        'MESSAGE_TOO_LARGE',
        `message of ${data.length} bytes exceeds maxMessageSize ${this.limits.maxMessageSize}`,
      );
    }
    if (this.resolved === undefined || this.resolvedVersion !== roster.version) {
      this.resolved = resolveRecipients(roster, this.self, this.recipients);
      this.resolvedVersion = roster.version;
    }
    if (this.buffered + data.length > this.limits.bufferLimit) {
      if (this.reliability === 'Durable') {
        throw new SwitchboardError(
          'BUFFER_FULL',
          `sender on channel ${this.channelId} has ${this.buffered} bytes queued; wait for bufferedAmount to fall`,
        );
      }
      this.dropped++;
      return this.takeSequence(); // lossy: accepted, then dropped; never an error
    }
    const sequence = this.takeSequence();
    this.queue.push({ sequence, to: this.resolved, data: data.slice(), sent: 0 });
    this.buffered += data.length;
    if (this.resolved.length === 0) {
      this.sentToEveryone = true;
    } else if (!this.sentToEveryone) {
      for (const id of this.resolved) this.sentTo.add(id);
    }
    return sequence;
  }

  private takeSequence(): number {
    const sequence = this.nextSeq;
    this.nextSeq = (this.nextSeq + 1) >>> 0;
    return sequence;
  }

  // Throws SwitchboardError.
  setParticipants(participants: readonly Identity[]): void {
    if (this.isClosed) throw this.closedError();
    this.recipients = validateParticipants(participants);
    this.resolved = undefined;
  }

  // Stops accepting messages; queued ones still go, then the close notice.
  close(): void {
    this.isClosed = true;
  }

  // Closed, and everything including the close notice handed to the transport.
  get finished(): boolean {
    return this.isClosed && this.queue.length === 0 && this.closeSent;
  }

  // A sender replacing this one on the same channel waits until this one finishes, so
  // the old close notice reaches receivers before the new sender's first message.
  setPredecessor(predecessor: SenderChannel): void {
    this.predecessor = predecessor;
  }

  private get waitingForPredecessor(): boolean {
    return this.predecessor !== undefined && !this.predecessor.finished;
  }

  // The call was joined again as a new participant `self` (a server that lost the old
  // session): queued messages are readdressed by identity (`remap`: an old participant id
  // to its new one, or undefined when that participant is not in the call now); a message
  // partly handed to the old connection, and one left with no recipient, are dropped.
  // Returns the durable messages dropped. (C++ SenderChannel::rejoin.)
  rejoin(self: ParticipantId, remap: (old: ParticipantId) => ParticipantId | undefined): number {
    this.self = self;
    this.resolved = undefined;
    this.resolvedVersion = -1;
    // Close notices go to whom the readdressed messages reach on the new session.
    this.sentTo.clear();
    this.sentToEveryone = false;
    let dropped = 0;
    const readdressed = new Map<readonly ParticipantId[], readonly ParticipantId[] | undefined>();
    const kept: Queued[] = [];
    for (const m of this.queue) {
      let to: readonly ParticipantId[] | undefined = m.to;
      let drop = m.sent > 0; // its first fragments went to the old session
      if (!drop && to.length > 0) {
        if (!readdressed.has(to)) {
          const ids: ParticipantId[] = [];
          for (const id of to) {
            const now = remap(id);
            if (now !== undefined) ids.push(now);
          }
          readdressed.set(to, ids.length > 0 ? ids : undefined);
        }
        to = readdressed.get(to);
        drop = to === undefined; // never "everyone" instead of nobody
      }
      if (drop || to === undefined) {
        this.buffered -= m.data.length - m.sent;
        if (this.reliability === 'Durable') dropped++;
        continue;
      }
      if (to.length === 0) {
        this.sentToEveryone = true;
      } else if (!this.sentToEveryone) {
        for (const id of to) this.sentTo.add(id);
      }
      kept.push({ ...m, to });
    }
    this.queue.clear();
    for (const m of kept) this.queue.push(m);
    return dropped;
  }

  // For the scheduler.
  hasFrame(): boolean {
    if (this.waitingForPredecessor) return false;
    return this.queue.length > 0 || (this.isClosed && !this.closeSent);
  }

  nextFrameCost(): number {
    const m = this.queue.peek();
    return m ? Math.min(this.limits.fragmentSize, m.data.length - m.sent) : 0;
  }

  pacedReady(now: number): boolean {
    return !this.pacer || this.queue.length === 0 || this.pacer.ready(now);
  }

  pacedReadyAt(now: number): number | undefined {
    if (!this.pacer || this.queue.length === 0) return undefined;
    return this.pacer.readyAt(now);
  }

  private baseHeader(type: FrameType): FrameHeader {
    return frameHeader({ type, reliability: this.reliability, priority: this.priority, channelId: this.channelId });
  }

  // Appends the next frame (or the close notices) and returns the class it travels in.
  writeNextFrame(out: ByteWriter): TrafficClass {
    const m = this.queue.peek();
    if (!m) {
      this.writeCloseFrames(out);
      // A close notice must arrive, even for a lossy sender.
      return { reliability: 'Durable', priority: this.priority };
    }
    const size = this.nextFrameCost();
    const h = this.baseHeader(FrameType.Data);
    h.sequence = m.sequence;
    h.messageSize = m.data.length;
    h.fragmented = m.data.length > this.limits.fragmentSize;
    h.fragmentOffset = m.sent;
    writeFrame(out, h, m.to, m.data.subarray(m.sent, m.sent + size));
    this.pacer?.consume(size);
    m.sent += size;
    this.buffered -= size;
    if (m.sent === m.data.length) this.queue.shift();
    return this.trafficClass;
  }

  private writeCloseFrames(out: ByteWriter): void {
    this.closeSent = true;
    const h = this.baseHeader(FrameType.Close);
    h.reliability = 'Durable';
    h.sequence = (this.nextSeq - 1) >>> 0;
    const empty = new Uint8Array(0);
    if (this.sentToEveryone) {
      writeFrame(out, h, [], empty);
      return;
    }
    // A sender that has reached more than 64 participants over its life needs several
    // notices, each within the recipient-list limit.
    const ids = [...this.sentTo].sort((a, b) => a - b);
    for (let i = 0; i < ids.length; i += MAX_RECIPIENTS) {
      writeFrame(out, h, ids.slice(i, i + MAX_RECIPIENTS), empty);
    }
  }
}
