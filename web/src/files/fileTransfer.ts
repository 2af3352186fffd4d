// Files between the participants of a call, by the convention of docs/protocol.md
// ("File transfer"): OFFER to the chosen people, CHUNKs of 64 KiB to each who ACCEPTs
// (from the offset it already has, so an interrupted transfer resumes), DONE, and the
// receiver's PROGRESS as proof of delivery after the SHA-256 check.
//
// Memory stays flat on the sending side: the file is read one 64 KiB slice at a time and
// the next slice is read only once sendMessage took the previous one (it waits while the
// sender's queue is full). The receiving side keeps the file in Blobs (the browser may
// move them to disk) and hands over one Blob at the end.

import { SwitchboardError, type ErrorCode } from '../core/errors.js';
import type { Identity, SenderOptions } from '../core/options.js';
import { Emitter } from '../client/emitter.js';
import {
  FILE_CHANNEL,
  MAX_CHUNK_SIZE,
  PROGRESS_INTERVAL,
  decodeFileMessage,
  encodeFileMessage,
  newTransferId,
  sanitizeFileName,
  type CancelCode,
  type FileMessage,
  type FileOffer,
} from './fileMessages.js';
import { Sha256 } from './sha256.js';

export { CHAT_CHANNEL, FILE_CHANNEL, MAX_CHUNK_SIZE, type CancelCode, type FileOffer } from './fileMessages.js';

// What FileTransfer needs of a Call (the SDK's Call has all of it).
export interface FileTransferCall {
  readonly participants: readonly { identity: Identity; displayName: string }[];
  readonly dataChannel: {
    createDataChannelSender(options?: SenderOptions): FileTransferSender;
    on(event: 'dataChannelReceiverCreated', listener: (receiver: FileTransferReceiver) => void): void;
    off(event: 'dataChannelReceiverCreated', listener: (receiver: FileTransferReceiver) => void): void;
  };
  on(event: 'participantJoined' | 'participantLeft', listener: (p: { identity: Identity }) => void): void;
  off(event: 'participantJoined' | 'participantLeft', listener: (p: { identity: Identity }) => void): void;
}
export interface FileTransferSender {
  readonly closed: boolean;
  setParticipants(participants: readonly Identity[]): void;
  sendMessage(data: Uint8Array): Promise<number>;
  close(): void;
}
export interface FileTransferReceiver {
  readonly channelId: number;
  readonly senderIdentity: Identity;
  readMessage(): { data: Uint8Array } | undefined;
  on(event: 'messageReady', listener: () => void): void;
}

// Why a transfer stopped: a CANCEL code of the protocol, or the SDK error that stopped it.
export class FileTransferError extends Error {
  constructor(
    readonly code: CancelCode | ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FileTransferError';
  }
}

export type OutgoingState =
  | 'preparing' // hashing the file
  | 'offered' // waiting for ACCEPT
  | 'sending'
  | 'sent' // DONE sent, waiting for the final PROGRESS
  | 'delivered'
  | 'declined'
  | 'failed'
  | 'interrupted'; // the recipient left; offered again when it comes back

export interface RecipientStatus {
  identity: Identity;
  state: OutgoingState;
  sent: number; // bytes handed to sendMessage
  confirmed: number; // bytes the recipient reported written (PROGRESS)
  error?: FileTransferError;
}

export type OutgoingFileEvents = {
  // Any change of one recipient's state or counters.
  progress: [status: RecipientStatus];
  // While hashing before the offer.
  preparing: [hashed: number];
  delivered: [identity: Identity];
  error: [identity: Identity, error: FileTransferError];
};

export type IncomingState = 'offered' | 'receiving' | 'interrupted' | 'done' | 'declined' | 'failed';

export type IncomingFileEvents = {
  progress: [received: number];
  state: [state: IncomingState];
  // The whole file, its SHA-256 checked.
  done: [file: Blob];
  error: [error: FileTransferError];
};

export type FileTransferEvents = {
  // Someone offers us a file: accept() or decline() it.
  offer: [file: IncomingFile];
};

type Source = Blob | Uint8Array;

async function readSlice(source: Source, start: number, end: number): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source.subarray(start, end);
  return new Uint8Array(await source.slice(start, end).arrayBuffer());
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class OutgoingFile {
  readonly events = new Emitter<OutgoingFileEvents>();
  readonly id: string;
  readonly name: string;
  readonly size: number;
  readonly mime: string | undefined;
  sha256 = '';
  private readonly recipients = new Map<Identity, RecipientStatus>();
  // Bumped to stop a recipient's running stream (left, cancelled, restarted).
  private readonly generation = new Map<Identity, number>();

  /** @internal */
  constructor(
    private readonly transfer: FileTransfer,
    readonly source: Source,
    to: readonly Identity[],
    name: string,
    mime: string | undefined,
  ) {
    this.id = newTransferId();
    this.name = name;
    this.size = source instanceof Uint8Array ? source.length : source.size;
    this.mime = mime;
    for (const identity of to) this.recipients.set(identity, { identity, state: 'preparing', sent: 0, confirmed: 0 });
  }

  get statuses(): RecipientStatus[] {
    return [...this.recipients.values()].map((s) => ({ ...s }));
  }
  status(identity: Identity): RecipientStatus | undefined {
    const s = this.recipients.get(identity);
    return s && { ...s };
  }
  get offer(): FileOffer {
    const offer: FileOffer = { id: this.id, name: this.name, size: this.size, sha256: this.sha256 };
    if (this.mime) offer.mime = this.mime;
    return offer;
  }

  // Stops sending to `identity` (all when absent) and tells them.
  cancel(identity?: Identity): void {
    for (const s of this.recipients.values()) {
      if (identity !== undefined && s.identity !== identity) continue;
      if (s.state === 'delivered' || s.state === 'declined' || s.state === 'failed') continue;
      this.stop(s.identity);
      void this.transfer.send([s.identity], { kind: 'cancel', id: this.id, code: 'CANCELLED', message: 'the sender cancelled' }).catch(() => {});
      this.fail(s, new FileTransferError('CANCELLED', 'cancelled'));
    }
  }

  on<K extends keyof OutgoingFileEvents>(event: K, listener: (...args: OutgoingFileEvents[K]) => void): void {
    this.events.on(event, listener);
  }
  off<K extends keyof OutgoingFileEvents>(event: K, listener: (...args: OutgoingFileEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  /** @internal Hashes the file, then offers it. */
  async start(): Promise<void> {
    try {
      const hash = new Sha256();
      for (let at = 0; at < this.size; at += MAX_CHUNK_SIZE) {
        hash.update(await readSlice(this.source, at, Math.min(this.size, at + MAX_CHUNK_SIZE)));
        this.events.emit('preparing', hash.bytes);
      }
      this.sha256 = hash.hex();
    } catch (e) {
      for (const s of this.recipients.values()) this.fail(s, new FileTransferError('IO_ERROR', `cannot read the file: ${String(e)}`));
      return;
    }
    const waiting = [...this.recipients.values()].filter((s) => s.state === 'preparing');
    for (const s of waiting) this.update(s, { state: 'offered' });
    await this.sendOffer(waiting.map((s) => s.identity));
  }

  /** @internal */
  handle(from: Identity, message: FileMessage): void {
    const s = this.recipients.get(from);
    if (!s) return;
    switch (message.kind) {
      case 'accept':
        if (s.state === 'declined' || s.state === 'failed' || s.state === 'delivered') return;
        if (message.offset > this.size) {
          void this.transfer.send([from], { kind: 'cancel', id: this.id, code: 'CANCELLED', message: `offset ${message.offset} is past the end` }).catch(() => {});
          this.fail(s, new FileTransferError('CANCELLED', `${from} asked for offset ${message.offset}, past the end`));
          return;
        }
        void this.stream(s, message.offset);
        return;
      case 'progress':
        this.update(s, { confirmed: Math.min(message.offset, this.size) });
        if (message.offset >= this.size && s.state === 'sent') {
          this.update(s, { state: 'delivered' });
          this.events.emit('delivered', from);
        }
        return;
      case 'cancel':
        this.stop(from);
        if (message.code === 'DECLINED') {
          this.update(s, { state: 'declined' });
        } else {
          this.fail(s, new FileTransferError(message.code, message.message || `${from} cancelled`));
        }
        return;
      default:
        return;
    }
  }

  /** @internal The recipient left the call or came back. */
  presence(identity: Identity, here: boolean): void {
    const s = this.recipients.get(identity);
    if (!s) return;
    if (!here && (s.state === 'offered' || s.state === 'sending' || s.state === 'sent')) {
      this.stop(identity);
      this.update(s, { state: 'interrupted' });
    } else if (here && s.state === 'interrupted') {
      // The same id again: the recipient answers with the offset it already has.
      this.update(s, { state: 'offered' });
      void this.sendOffer([identity]);
    }
  }

  private async sendOffer(to: Identity[]): Promise<void> {
    if (to.length === 0) return;
    try {
      await this.transfer.send(to, { kind: 'offer', offer: this.offer });
    } catch (e) {
      for (const identity of to) this.lost(identity, e);
    }
  }

  private async stream(s: RecipientStatus, offset: number): Promise<void> {
    const generation = this.stop(s.identity);
    const current = () => this.generation.get(s.identity) === generation;
    this.update(s, { state: 'sending', sent: offset });
    try {
      for (let at = offset; at < this.size && current(); ) {
        const end = Math.min(this.size, at + MAX_CHUNK_SIZE);
        const data = await readSlice(this.source, at, end);
        if (!current()) return;
        await this.transfer.send([s.identity], { kind: 'chunk', id: this.id, offset: at, data });
        at = end;
        if (current()) this.update(s, { sent: at });
      }
      if (!current()) return;
      await this.transfer.send([s.identity], { kind: 'done', id: this.id });
      if (current() && s.state === 'sending') this.update(s, { state: 'sent' });
    } catch (e) {
      if (current()) this.lost(s.identity, e);
    }
  }

  // A send failed: the recipient is gone (resumed when it is back) or the call is over.
  private lost(identity: Identity, e: unknown): void {
    const s = this.recipients.get(identity);
    if (!s || s.state === 'delivered' || s.state === 'declined' || s.state === 'failed') return;
    this.stop(identity);
    if (!this.transfer.isHere(identity)) {
      this.update(s, { state: 'interrupted' });
      return;
    }
    const code: ErrorCode = e instanceof SwitchboardError ? e.code : 'INTERNAL';
    this.fail(s, new FileTransferError(code, e instanceof Error ? e.message : String(e)));
  }

  private stop(identity: Identity): number {
    const next = (this.generation.get(identity) ?? 0) + 1;
    this.generation.set(identity, next);
    return next;
  }

  private fail(s: RecipientStatus, error: FileTransferError): void {
    this.update(s, { state: 'failed', error });
    this.events.emit('error', s.identity, error);
  }

  private update(s: RecipientStatus, change: Partial<RecipientStatus>): void {
    Object.assign(s, change);
    this.events.emit('progress', { ...s });
  }
}

export class IncomingFile {
  readonly events = new Emitter<IncomingFileEvents>();
  readonly id: string;
  readonly from: Identity;
  readonly name: string; // sanitized
  readonly size: number;
  readonly mime: string | undefined;
  readonly sha256: string;
  private stateValue: IncomingState = 'offered';
  private receivedBytes = 0;
  private reported = 0;
  private hash = new Sha256();
  private parts: Blob[] = [];
  private pending: Uint8Array<ArrayBuffer>[] = [];
  private pendingBytes = 0;
  private fileValue: Blob | undefined;
  errorValue: FileTransferError | undefined;

  /** @internal */
  constructor(
    private readonly transfer: FileTransfer,
    from: Identity,
    offer: FileOffer,
    name: string,
  ) {
    this.id = offer.id;
    this.from = from;
    this.name = name;
    this.size = offer.size;
    this.mime = offer.mime;
    this.sha256 = offer.sha256;
  }

  get state(): IncomingState {
    return this.stateValue;
  }
  get received(): number {
    return this.receivedBytes;
  }
  // The file once done.
  get file(): Blob | undefined {
    return this.fileValue;
  }

  accept(): void {
    if (this.stateValue !== 'offered') return;
    this.setState('receiving');
    this.reply({ kind: 'accept', id: this.id, offset: this.receivedBytes });
  }
  decline(): void {
    if (this.stateValue !== 'offered') return;
    this.setState('declined');
    this.reply({ kind: 'cancel', id: this.id, code: 'DECLINED', message: 'declined' });
  }
  cancel(): void {
    if (this.stateValue !== 'receiving' && this.stateValue !== 'interrupted') return;
    this.reply({ kind: 'cancel', id: this.id, code: 'CANCELLED', message: 'the receiver cancelled' });
    this.failWith(new FileTransferError('CANCELLED', 'cancelled'));
  }

  on<K extends keyof IncomingFileEvents>(event: K, listener: (...args: IncomingFileEvents[K]) => void): void {
    this.events.on(event, listener);
  }
  off<K extends keyof IncomingFileEvents>(event: K, listener: (...args: IncomingFileEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  /** @internal The same offer again (the sender came back): resume or answer as before. */
  reoffered(): void {
    switch (this.stateValue) {
      case 'receiving':
      case 'interrupted':
        this.setState('receiving');
        this.reply({ kind: 'accept', id: this.id, offset: this.receivedBytes });
        return;
      case 'done':
        this.reply({ kind: 'progress', id: this.id, offset: this.size });
        return;
      default:
        return; // still offered: the user has not decided
    }
  }

  /** @internal The sender offered other bytes under this id: what we hold is not of that file. */
  superseded(): void {
    this.failWith(new FileTransferError('CANCELLED', `${this.from} offered other bytes under this transfer id`));
  }

  /** @internal */
  handle(message: FileMessage): void {
    if (this.stateValue !== 'receiving') {
      // A sender's cancel of an offer nobody answered yet ends it too.
      if (message.kind === 'cancel' && this.stateValue === 'offered') {
        this.failWith(new FileTransferError(message.code, message.message || `${this.from} cancelled`));
      }
      return;
    }
    switch (message.kind) {
      case 'chunk': {
        const end = message.offset + message.data.length;
        if (message.offset > this.receivedBytes || end > this.size) {
          this.abort('CANCELLED', `a chunk at byte ${message.offset} of ${message.data.length} bytes, expected byte ${this.receivedBytes} of ${this.size}`);
          return;
        }
        // Bytes we hold already: a chunk the sender queued before an interruption that
        // still arrived, ahead of the resumed stream. The same file's bytes, so skipped.
        if (end <= this.receivedBytes) return;
        const fresh = message.data.subarray(this.receivedBytes - message.offset);
        this.hash.update(fresh);
        this.keep(fresh);
        this.receivedBytes += fresh.length;
        this.events.emit('progress', this.receivedBytes);
        if (this.receivedBytes - this.reported >= PROGRESS_INTERVAL && this.receivedBytes < this.size) {
          this.reported = this.receivedBytes;
          this.reply({ kind: 'progress', id: this.id, offset: this.receivedBytes });
        }
        return;
      }
      case 'done': {
        if (this.receivedBytes !== this.size) {
          this.abort('CANCELLED', `DONE after ${this.receivedBytes} of ${this.size} bytes`);
          return;
        }
        const digest = this.hash.hex();
        if (digest !== this.sha256) {
          this.abort('HASH_MISMATCH', `the file's SHA-256 is ${digest}, the offer said ${this.sha256}`);
          return;
        }
        this.flush();
        this.fileValue = new Blob(this.parts, this.mime ? { type: this.mime } : {});
        this.parts = [];
        this.setState('done');
        this.reply({ kind: 'progress', id: this.id, offset: this.size });
        this.events.emit('done', this.fileValue);
        return;
      }
      case 'cancel':
        this.failWith(new FileTransferError(message.code, message.message || `${this.from} cancelled`));
        return;
      default:
        return;
    }
  }

  /** @internal The sender left: keep what we have for a resume. */
  senderLeft(): void {
    if (this.stateValue === 'receiving') this.setState('interrupted');
  }

  private keep(data: Uint8Array): void {
    this.pending.push(data.slice());
    this.pendingBytes += data.length;
    // Many small parts make one Blob every 4 MiB, which the browser may keep on disk.
    if (this.pendingBytes >= 4 * 1024 * 1024) this.flush();
  }
  private flush(): void {
    if (this.pending.length === 0) return;
    this.parts.push(new Blob(this.pending));
    this.pending = [];
    this.pendingBytes = 0;
  }

  private abort(code: CancelCode, message: string): void {
    this.reply({ kind: 'cancel', id: this.id, code, message });
    this.failWith(new FileTransferError(code, message));
  }

  // Nothing is kept of a failed transfer.
  private failWith(error: FileTransferError): void {
    this.parts = [];
    this.pending = [];
    this.pendingBytes = 0;
    this.hash = new Sha256();
    this.errorValue = error;
    this.setState('failed');
    this.events.emit('error', error);
  }

  private setState(state: IncomingState): void {
    this.stateValue = state;
    this.events.emit('state', state);
  }

  private reply(message: FileMessage): void {
    void this.transfer.send([this.from], message).catch(() => {
      // The sender is gone; it offers again when back, and we answer then.
    });
  }
}

export interface SendFileOptions {
  // Defaults to the File's name, else "file".
  name?: string;
  // Defaults to the Blob's type.
  mime?: string;
}

// One per call: owns the participant's channel-10001 sender and reads everyone's.
export class FileTransfer {
  private readonly events = new Emitter<FileTransferEvents>();
  private sender: FileTransferSender | undefined;
  private readonly outgoing = new Map<string, OutgoingFile>();
  private readonly incoming = new Map<string, IncomingFile>(); // key: from + ' ' + id
  // Sends go one at a time: each sets the sender's recipients, then queues its message.
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  private readonly onReceiver = (receiver: FileTransferReceiver) => {
    if (receiver.channelId !== FILE_CHANNEL) return;
    const drain = () => {
      for (let m = receiver.readMessage(); m; m = receiver.readMessage()) this.dispatch(receiver.senderIdentity, m.data);
    };
    receiver.on('messageReady', drain);
    drain();
  };
  private readonly onJoined = (p: { identity: Identity }) => this.presence(p.identity, true);
  private readonly onLeft = (p: { identity: Identity }) => this.presence(p.identity, false);

  constructor(private call: FileTransferCall) {
    this.attach(call);
  }

  // Carries on in another call, typically the same call joined again after a disconnect:
  // unfinished files are offered again (same id) to their recipients as they are there,
  // and files we were receiving resume from the bytes we have when their senders do.
  useCall(call: FileTransferCall): void {
    if (this.closed || call === this.call) return;
    this.detach();
    this.sender = undefined;
    this.call = call;
    this.attach(call);
    for (const file of this.incoming.values()) file.senderLeft();
    for (const out of this.outgoing.values()) {
      for (const s of out.statuses) {
        out.presence(s.identity, false);
        if (this.isHere(s.identity)) out.presence(s.identity, true);
      }
    }
  }

  private attach(call: FileTransferCall): void {
    call.dataChannel.on('dataChannelReceiverCreated', this.onReceiver);
    call.on('participantJoined', this.onJoined);
    call.on('participantLeft', this.onLeft);
  }
  private detach(): void {
    this.call.dataChannel.off('dataChannelReceiverCreated', this.onReceiver);
    this.call.off('participantJoined', this.onJoined);
    this.call.off('participantLeft', this.onLeft);
  }

  // Offers `file` to `to` (identities; empty = everyone in the call now) and sends it to
  // each who accepts. Watch the returned OutgoingFile for progress.
  sendFile(file: Blob | Uint8Array, to: readonly Identity[], options: SendFileOptions = {}): OutgoingFile {
    if (this.closed) throw new SwitchboardError('SENDER_CLOSED', 'this FileTransfer is closed');
    const recipients = to.length > 0 ? [...new Set(to)] : this.call.participants.map((p) => p.identity);
    if (recipients.length === 0) throw new SwitchboardError('NO_VALID_PARTICIPANT', 'nobody to send the file to');
    const fileName = options.name ?? (typeof File !== 'undefined' && file instanceof File ? file.name : 'file');
    const name = sanitizeFileName(fileName);
    if (name === undefined) throw new SwitchboardError('INVALID_ARGUMENT', `"${fileName}" is not a usable file name`);
    const mime = options.mime ?? (file instanceof Blob && file.type !== '' ? file.type : undefined);
    const out = new OutgoingFile(this, file, recipients, name, mime);
    this.outgoing.set(out.id, out);
    void out.start();
    return out;
  }

  on<K extends keyof FileTransferEvents>(event: K, listener: (...args: FileTransferEvents[K]) => void): void {
    this.events.on(event, listener);
  }
  off<K extends keyof FileTransferEvents>(event: K, listener: (...args: FileTransferEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  // Stops listening and closes the channel-10001 sender.
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    this.sender?.close();
    this.events.removeAllListeners();
  }

  /** @internal */
  isHere(identity: Identity): boolean {
    return this.call.participants.some((p) => p.identity === identity);
  }

  /** @internal One message to `to`, after the ones before it were queued. */
  send(to: readonly Identity[], message: FileMessage): Promise<number> {
    const run = async (): Promise<number> => {
      if (this.closed) throw new SwitchboardError('SENDER_CLOSED', 'this FileTransfer is closed');
      if (!this.sender || this.sender.closed) {
        this.sender = this.call.dataChannel.createDataChannelSender({
          channelId: FILE_CHANNEL,
          reliability: 'Durable',
          priority: 'Normal',
          participants: to,
        });
      }
      const bytes = encodeFileMessage(message);
      for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
        this.sender.setParticipants(to);
        try {
          return await this.sender.sendMessage(bytes);
        } catch (e) {
          // Over the call's rate limit: the same message again a little later.
          if (!(e instanceof SwitchboardError) || e.code !== 'TRAFFIC_LIMITED') throw e;
          await sleep(wait);
        }
      }
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => {});
    return result;
  }

  private dispatch(from: Identity, data: Uint8Array): void {
    const message = decodeFileMessage(data);
    if ('error' in message) {
      console.warn(`switchboard files: ignored a message from ${from}: ${message.error}`);
      return;
    }
    if (message.kind === 'offer') {
      this.offered(from, message.offer);
      return;
    }
    // ACCEPT, PROGRESS and a recipient's CANCEL are about our files; CHUNK, DONE and a
    // sender's CANCEL about theirs. Ids are random, so the id says which.
    const out = this.outgoing.get(message.id);
    if (out && message.kind !== 'chunk' && message.kind !== 'done') {
      out.handle(from, message);
      return;
    }
    this.incoming.get(`${from} ${message.id}`)?.handle(message);
  }

  private offered(from: Identity, offer: FileOffer): void {
    const key = `${from} ${offer.id}`;
    const known = this.incoming.get(key);
    if (known) {
      // The same id is the same file only with the same size and SHA-256: the C++ SDK derives
      // its ids from the file's metadata, which can stay while the bytes change.
      const sameFile = known.size === offer.size && known.sha256 === offer.sha256;
      const ended = known.state === 'declined' || known.state === 'failed';
      if (known.state === 'offered' || (sameFile && !ended)) {
        known.reoffered();
        return;
      }
      // Other bytes under that id, or an offer that ended: a new offer, from byte 0.
      if (!ended && known.state !== 'done') known.superseded();
      this.incoming.delete(key);
    }
    const name = sanitizeFileName(offer.name);
    if (name === undefined) {
      void this.send([from], { kind: 'cancel', id: offer.id, code: 'DECLINED', message: 'the file name is empty once sanitized' }).catch(() => {});
      return;
    }
    const file = new IncomingFile(this, from, offer, name);
    this.incoming.set(key, file);
    this.events.emit('offer', file);
  }

  private presence(identity: Identity, here: boolean): void {
    for (const out of this.outgoing.values()) out.presence(identity, here);
    if (!here) {
      for (const file of this.incoming.values()) if (file.from === identity) file.senderLeft();
    }
  }
}
