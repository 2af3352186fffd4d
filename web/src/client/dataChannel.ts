// The DataChannel objects of a call, named after the ACS SDKs: one-way senders and
// receivers, and call.dataChannel where senders are made and receivers announced. Thin
// faces over the call's engine (callEngine.ts), which owns the core's state.

import type { SwitchboardError } from '../core/errors.js';
import type { Identity, Priority, ReceiverCloseReason, Reliability, SenderOptions } from '../core/options.js';
import type { ReceiverChannel } from '../core/receiverChannel.js';
import type { SenderChannel } from '../core/senderChannel.js';
import { Emitter } from './emitter.js';

export interface DataChannelMessage {
  // The sender's number for this message: 1, 2, 3, ... per sender. Gaps mean the sender
  // changed its recipients in between (ACS semantics), not losses.
  sequenceNumber: number;
  data: Uint8Array;
}

// What the objects need from their call's engine.
export interface DataChannelHost {
  createSender(options: SenderOptions | undefined): DataChannelSender;
  sendMessage(sender: DataChannelSender, data: Uint8Array): Promise<number>;
  setParticipants(sender: DataChannelSender, participants: readonly Identity[]): void;
  closeSender(sender: DataChannelSender): void;
  senderBufferedAmount(sender: DataChannelSender): number;
  senderMaxMessageSize(sender: DataChannelSender): number;
}

export type DataChannelSenderEvents = {
  // Errors that surface after sendMessage resolved: the server refused frames of this
  // sender (TRAFFIC_LIMITED, MESSAGE_TOO_LARGE) or the call ended (NOT_CONNECTED).
  error: [error: SwitchboardError];
};

export class DataChannelSender {
  /** @internal */ readonly events = new Emitter<DataChannelSenderEvents>();

  /** @internal */
  constructor(
    private readonly host: DataChannelHost,
    /** @internal */ readonly core: SenderChannel,
  ) {}

  get channelId(): number {
    return this.core.channelId;
  }
  get reliability(): Reliability {
    return this.core.reliability;
  }
  get priority(): Priority {
    return this.core.priority;
  }
  get bitrateInKbps(): number {
    return this.core.bitrateInKbps;
  }
  // The largest message sendMessage accepts: the call's limit (256 KiB unless the server
  // says otherwise; up to 16 MiB, fragmented on the wire), less 33 bytes with end-to-end
  // encryption.
  get maxMessageSize(): number {
    return this.host.senderMaxMessageSize(this);
  }
  // The recipients' identities; empty = everyone in the call.
  get participants(): readonly Identity[] {
    return this.core.participants;
  }
  get closed(): boolean {
    return this.core.closed;
  }
  // Bytes given to sendMessage and not yet handed to the network.
  get bufferedAmount(): number {
    return this.host.senderBufferedAmount(this);
  }

  // Applies to messages sent from now on. More than 64 → TOO_MANY_PARTICIPANTS.
  setParticipants(participants: readonly Identity[]): void {
    this.host.setParticipants(this, participants);
  }

  // Queues one message for the current recipients and resolves with its sequence number
  // once the sender took it. While the sender's queue is full it waits for room, so
  // `for (…) await sender.sendMessage(chunk)` never buffers a whole file. Rejects with
  // SwitchboardError: SENDER_CLOSED, MESSAGE_EMPTY, MESSAGE_TOO_LARGE, NO_VALID_PARTICIPANT,
  // TRAFFIC_LIMITED (over the call's rate limit: retry later), NOT_CONNECTED, BUFFER_FULL
  // (the messages already waiting hold the sender's buffer limit, 4 MiB: await
  // sendMessage, or send again once bufferedAmount falls).
  sendMessage(data: Uint8Array): Promise<number> {
    return this.host.sendMessage(this, data);
  }

  // Stops the sender. Queued messages still go out, then its receivers close with
  // 'sender_closed'. Idempotent.
  close(): void {
    this.host.closeSender(this);
  }

  on<K extends keyof DataChannelSenderEvents>(
    event: K,
    listener: (...args: DataChannelSenderEvents[K]) => void,
  ): void {
    this.events.on(event, listener);
  }
  off<K extends keyof DataChannelSenderEvents>(
    event: K,
    listener: (...args: DataChannelSenderEvents[K]) => void,
  ): void {
    this.events.off(event, listener);
  }
}

export type DataChannelReceiverEvents = {
  // Messages are waiting, once per arrival: call readMessage().
  messageReady: [];
  // Once, when the receiver closes (after the last message and error).
  close: [reason: ReceiverCloseReason];
  // A message from this sender arrived but is not readable: with end-to-end encryption,
  // one that could not be opened (DECRYPTION_FAILED: a key we lack, another key, not
  // sealed, or altered on the way). The message is dropped; the ones after it still
  // arrive. Register it in dataChannelReceiverCreated to see the first message's error.
  error: [error: SwitchboardError];
};

export class DataChannelReceiver {
  /** @internal */ readonly events = new Emitter<DataChannelReceiverEvents>();

  /** @internal */
  constructor(
    /** @internal */ readonly core: ReceiverChannel,
    readonly senderDisplayName: string,
  ) {}

  get channelId(): number {
    return this.core.channelId;
  }
  // Who sends on it, as their access token's `sub` names them.
  get senderIdentity(): Identity {
    return this.core.senderIdentity;
  }
  get unreadMessages(): number {
    return this.core.unreadMessages;
  }
  get closed(): boolean {
    return this.core.closed;
  }
  get closeReason(): ReceiverCloseReason | undefined {
    return this.core.closeReason;
  }

  // The next unread message, oldest first; undefined when none is waiting. Messages that
  // arrived before a close stay readable after it.
  readMessage(): DataChannelMessage | undefined {
    const message = this.core.read();
    return message ? { sequenceNumber: message.sequenceNumber, data: message.data } : undefined;
  }

  on<K extends keyof DataChannelReceiverEvents>(
    event: K,
    listener: (...args: DataChannelReceiverEvents[K]) => void,
  ): void {
    this.events.on(event, listener);
  }
  off<K extends keyof DataChannelReceiverEvents>(
    event: K,
    listener: (...args: DataChannelReceiverEvents[K]) => void,
  ): void {
    this.events.off(event, listener);
  }
}

export type DataChannelFeatureEvents = {
  // A participant started sending to us on a channel; register 'messageReady' here to see
  // the first message.
  dataChannelReceiverCreated: [receiver: DataChannelReceiver];
};

// call.dataChannel (ACS: DataChannelCallFeature).
export class DataChannelFeature {
  /** @internal */ readonly events = new Emitter<DataChannelFeatureEvents>();

  /** @internal */
  constructor(private readonly host: DataChannelHost) {}

  // channelId 0 or absent = a free id from 1024..65535. Creating a sender on the channel
  // id of an open sender closes that one first. Throws SwitchboardError:
  // INVALID_CHANNEL_ID, NO_AVAILABLE_CHANNEL_ID, TOO_MANY_PARTICIPANTS, INVALID_ARGUMENT,
  // NOT_CONNECTED.
  createDataChannelSender(options?: SenderOptions): DataChannelSender {
    return this.host.createSender(options);
  }

  on<K extends keyof DataChannelFeatureEvents>(
    event: K,
    listener: (...args: DataChannelFeatureEvents[K]) => void,
  ): void {
    this.events.on(event, listener);
  }
  off<K extends keyof DataChannelFeatureEvents>(
    event: K,
    listener: (...args: DataChannelFeatureEvents[K]) => void,
  ): void {
    this.events.off(event, listener);
  }
}
