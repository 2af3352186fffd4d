// Messages from one (sending participant, channel id) pair, waiting to be read.

import type { Identity, ParticipantId, ReceiverCloseReason, Reliability } from './options.js';
import { Queue } from './queue.js';

export interface Message {
  sequenceNumber: number;
  data: Uint8Array;
}

export class ReceiverChannel {
  private readonly queue = new Queue<Message>();
  private unread = 0;
  private latestReliability: Reliability = 'Durable';
  private dropped = 0;
  private reason: ReceiverCloseReason | undefined;
  private lastSeen: number;

  constructor(
    readonly sender: ParticipantId,
    readonly senderIdentity: Identity,
    readonly channelId: number,
    private readonly unreadLimit: number,
    now: number,
  ) {
    this.lastSeen = now;
  }

  // The next unread message, if any. Messages that arrived before a close stay readable.
  read(): Message | undefined {
    const m = this.queue.shift();
    if (m) this.unread -= m.data.length;
    return m;
  }

  get unreadBytes(): number {
    return this.unread;
  }
  get unreadMessages(): number {
    return this.queue.length;
  }
  // Unread bytes are over the bound: lossy messages are dropped and durable input pauses.
  get overLimit(): boolean {
    return this.unread >= this.unreadLimit;
  }
  // Durable data waits here past the bound: the transport must stop reading.
  get holdsBackDurable(): boolean {
    return this.latestReliability === 'Durable' && this.overLimit;
  }
  get droppedMessages(): number {
    return this.dropped;
  }
  get closed(): boolean {
    return this.reason !== undefined;
  }
  get closeReason(): ReceiverCloseReason | undefined {
    return this.reason;
  }
  get lastActivity(): number {
    return this.lastSeen;
  }

  // For the endpoint. False when a lossy message was dropped for lack of room.
  push(message: Message, reliability: Reliability, now: number): boolean {
    this.lastSeen = now;
    this.latestReliability = reliability;
    if (reliability === 'Lossy' && this.unread + message.data.length > this.unreadLimit) {
      this.dropped++;
      return false;
    }
    this.unread += message.data.length;
    this.queue.push(message);
    return true;
  }

  close(reason: ReceiverCloseReason): void {
    this.reason = reason;
  }
}
