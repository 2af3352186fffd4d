// The file-transfer convention (docs/protocol.md, "File transfer"): the message codec,
// name sanitizing, the streaming SHA-256, and FileTransfer between fake calls whose
// senders hold a few messages at most (sendMessage waits for room, as the SDK's does).

import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { test } from 'node:test';

import { SwitchboardError } from '../../src/core/errors.js';
import {
  decodeFileMessage,
  encodeFileMessage,
  sanitizeFileName,
  type FileMessage,
} from '../../src/files/fileMessages.js';
import {
  FILE_CHANNEL,
  FileTransfer,
  type FileTransferCall,
  type FileTransferReceiver,
  type FileTransferSender,
  type IncomingFile,
} from '../../src/files/fileTransfer.js';
import { Sha256, toHex } from '../../src/files/sha256.js';

const ID = '00112233445566778899aabbccddeeff';

test('messages round-trip byte for byte as docs/protocol.md lays them out', () => {
  const chunk = encodeFileMessage({ kind: 'chunk', id: ID, offset: 2 ** 40 + 5, data: new Uint8Array([7, 8, 9]) });
  assert.deepEqual([...chunk.subarray(0, 17)], [3, ...Buffer.from(ID, 'hex')]);
  assert.deepEqual([...chunk.subarray(17, 25)], [0, 0, 1, 0, 0, 0, 0, 5]);
  assert.deepEqual([...chunk.subarray(25)], [7, 8, 9]);
  const messages: FileMessage[] = [
    { kind: 'offer', offer: { id: ID, name: 'report.pdf', size: 1234567, sha256: 'ab'.repeat(32), mime: 'application/pdf' } },
    { kind: 'accept', id: ID, offset: 65536 },
    { kind: 'done', id: ID },
    { kind: 'progress', id: ID, offset: 1048576 },
    { kind: 'cancel', id: ID, code: 'HASH_MISMATCH', message: 'bad' },
    { kind: 'chunk', id: ID, offset: 2 ** 40 + 5, data: new Uint8Array([7, 8, 9]) },
  ];
  for (const m of messages) assert.deepEqual(decodeFileMessage(encodeFileMessage(m)), m);
  const accept = encodeFileMessage({ kind: 'accept', id: ID, offset: 0 });
  assert.equal(accept[0], 0x02);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(accept.subarray(1))), { id: ID, offset: 0 });
});

test('malformed messages are refused with the reason', () => {
  const withJson = (kind: number, json: unknown) => new Uint8Array([kind, ...new TextEncoder().encode(JSON.stringify(json))]);
  const reason = (bytes: Uint8Array) => {
    const r = decodeFileMessage(bytes);
    assert.ok('error' in r, `expected an error, got ${JSON.stringify(r)}`);
    return r.error;
  };
  assert.match(reason(new Uint8Array()), /empty/);
  assert.match(reason(new Uint8Array([9, 0x7b, 0x7d])), /"id"/);
  assert.match(reason(withJson(9, { id: ID })), /unknown kind 0x09/);
  assert.match(reason(withJson(2, { id: 'ABC', offset: 0 })), /"id"/);
  assert.match(reason(withJson(2, { id: ID, offset: -1 })), /offset/);
  assert.match(reason(withJson(1, { id: ID, name: 'x', size: 1, sha256: 'zz' })), /sha256/);
  assert.match(reason(withJson(1, { id: ID, name: 'x'.repeat(5000), size: 1, sha256: '0'.repeat(64) })), /4 KiB/);
  assert.match(reason(new Uint8Array([3, 1, 2])), /header/);
  const far = encodeFileMessage({ kind: 'chunk', id: ID, offset: 0, data: new Uint8Array(1) });
  far[17] = 0xff;
  assert.match(reason(far), /2\^53/);
  assert.match(reason(new Uint8Array([2, 0xff, 0xfe])), /UTF-8 JSON/);
});

test('offered names keep only a safe last path component', () => {
  assert.equal(sanitizeFileName('report.pdf'), 'report.pdf');
  assert.equal(sanitizeFileName('../../etc/passwd'), 'passwd');
  assert.equal(sanitizeFileName('C:\\Users\\me\\notes.txt'), 'notes.txt');
  assert.equal(sanitizeFileName('..bashrc'), 'bashrc');
  assert.equal(sanitizeFileName('a\u0000b\nc.txt'), 'abc.txt');
  assert.equal(sanitizeFileName('dir/'), undefined);
  assert.equal(sanitizeFileName('...'), undefined);
});

test('streaming SHA-256 matches WebCrypto for every split', async () => {
  for (const size of [0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 70000]) {
    const data = randomFile(size);
    const want = toHex(new Uint8Array(await webcrypto.subtle.digest('SHA-256', data)));
    for (const piece of [1, 7, 64, 65536]) {
      const hash = new Sha256();
      for (let i = 0; i < size; i += piece) hash.update(data.subarray(i, i + piece));
      assert.equal(hash.hex(), want, `size ${size} in pieces of ${piece}`);
    }
  }
});

// ---- FileTransfer between fake calls ----

type Listener = (...args: never[]) => void;
class Events {
  private readonly map = new Map<string, Set<Listener>>();
  on(event: string, fn: Listener) {
    if (!this.map.has(event)) this.map.set(event, new Set());
    this.map.get(event)!.add(fn);
  }
  off(event: string, fn: Listener) {
    this.map.get(event)?.delete(fn);
  }
  emit(event: string, ...args: unknown[]) {
    for (const fn of [...(this.map.get(event) ?? [])]) (fn as (...a: unknown[]) => void)(...args);
  }
}

class FakeReceiver implements FileTransferReceiver {
  readonly events = new Events();
  readonly queue: Uint8Array[] = [];
  constructor(
    readonly senderIdentity: string,
    readonly channelId: number,
  ) {}
  readMessage() {
    const data = this.queue.shift();
    return data && { data };
  }
  on(event: 'messageReady', fn: () => void) {
    this.events.on(event, fn);
  }
}

// A few messages in flight per sender; `net.stalled` holds them all.
class Net {
  stalled = false;
  readonly calls = new Map<string, FakeCall>();
  // Lets a test change or watch messages in transit.
  tap: (from: string, to: string, data: Uint8Array) => Uint8Array = (_f, _t, d) => d;

  join(identity: string): FakeCall {
    const call = new FakeCall(this, identity);
    for (const other of this.calls.values()) other.events.emit('participantJoined', { identity, displayName: identity });
    this.calls.set(identity, call);
    return call;
  }
  leave(identity: string): void {
    const call = this.calls.get(identity);
    if (!call) return;
    this.calls.delete(identity);
    call.gone = true;
    // The server routes to who is in the call: what was on the way to it is lost.
    for (const other of this.calls.values()) for (const s of other.senders) s.drop(identity);
    for (const other of this.calls.values()) other.events.emit('participantLeft', { identity, displayName: identity });
  }
  deliver(from: string, to: readonly string[], data: Uint8Array): void {
    const targets = to.length > 0 ? to : [...this.calls.keys()].filter((k) => k !== from);
    for (const identity of targets) {
      const call = this.calls.get(identity);
      if (!call) continue;
      let receiver = call.receivers.get(from);
      if (!receiver) {
        receiver = new FakeReceiver(from, FILE_CHANNEL);
        call.receivers.set(from, receiver);
        call.channelEvents.emit('dataChannelReceiverCreated', receiver);
      }
      receiver.queue.push(this.tap(from, identity, data));
      receiver.events.emit('messageReady');
    }
  }
}

class FakeSender implements FileTransferSender {
  closed = false;
  private to: readonly string[] = [];
  private readonly inFlight: { to: readonly string[]; data: Uint8Array }[] = [];
  private readonly waiting: (() => void)[] = [];
  private seq = 0;
  static readonly CAPACITY = 3;
  constructor(private readonly call: FakeCall) {}
  setParticipants(p: readonly string[]) {
    this.to = [...p];
  }
  async sendMessage(data: Uint8Array): Promise<number> {
    if (this.closed || this.call.gone) throw new SwitchboardError('NOT_CONNECTED', 'left');
    const to = this.to;
    if (to.length > 0 && !to.some((p) => this.call.net.calls.has(p))) {
      throw new SwitchboardError('NO_VALID_PARTICIPANT', 'none of them is in the call');
    }
    while (this.inFlight.length >= FakeSender.CAPACITY) await new Promise<void>((r) => this.waiting.push(r));
    this.inFlight.push({ to, data: data.slice() });
    setImmediate(() => this.pump());
    return ++this.seq;
  }
  pump(): void {
    if (this.call.net.stalled) return;
    const m = this.inFlight.shift();
    if (!m) return;
    if (!this.call.gone) this.call.net.deliver(this.call.identity, m.to, m.data);
    this.waiting.shift()?.();
    if (this.inFlight.length > 0) setImmediate(() => this.pump());
  }
  close() {
    this.closed = true;
  }
  drop(identity: string): void {
    for (let i = this.inFlight.length - 1; i >= 0; --i) {
      const m = this.inFlight[i]!;
      if (m.to.length === 1 && m.to[0] === identity) this.inFlight.splice(i, 1);
    }
    while (this.waiting.length > 0 && this.inFlight.length < FakeSender.CAPACITY) this.waiting.shift()!();
  }
}

class FakeCall implements FileTransferCall {
  readonly events = new Events();
  readonly channelEvents = new Events();
  readonly receivers = new Map<string, FakeReceiver>();
  readonly senders: FakeSender[] = [];
  gone = false;
  constructor(
    readonly net: Net,
    readonly identity: string,
  ) {}
  get participants() {
    return [...this.net.calls.keys()].filter((k) => k !== this.identity).map((identity) => ({ identity, displayName: identity }));
  }
  readonly dataChannel = {
    createDataChannelSender: () => {
      const sender = new FakeSender(this);
      this.senders.push(sender);
      return sender;
    },
    on: (event: 'dataChannelReceiverCreated', fn: (r: FileTransferReceiver) => void) => this.channelEvents.on(event, fn),
    off: (event: 'dataChannelReceiverCreated', fn: (r: FileTransferReceiver) => void) => this.channelEvents.off(event, fn),
  };
  on(event: 'participantJoined' | 'participantLeft', fn: (p: { identity: string }) => void) {
    this.events.on(event, fn);
  }
  off(event: 'participantJoined' | 'participantLeft', fn: (p: { identity: string }) => void) {
    this.events.off(event, fn);
  }
  resume(): void {
    for (const s of this.senders) s.pump();
  }
}

function randomFile(size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) webcrypto.getRandomValues(out.subarray(i, Math.min(size, i + 65536)));
  return out;
}

function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (condition()) resolve();
      else if (Date.now() - start > ms) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(check, 2);
    };
    check();
  });
}

function setup() {
  const net = new Net();
  const aliceCall = net.join('alice');
  const bobCall = net.join('bob');
  const alice = new FileTransfer(aliceCall);
  const bob = new FileTransfer(bobCall);
  const offers: IncomingFile[] = [];
  bob.on('offer', (f) => offers.push(f));
  return { net, aliceCall, bobCall, alice, bob, offers };
}

test('a file reaches the recipient who accepts, SHA-256 checked, with PROGRESS every MiB', async () => {
  const { net, alice, offers } = setup();
  const content = randomFile(2 * 1024 * 1024 + 1000);
  const progressFromBob: number[] = [];
  net.tap = (from, _to, data) => {
    const m = decodeFileMessage(data);
    if (from === 'bob' && 'kind' in m && m.kind === 'progress') progressFromBob.push(m.offset);
    return data;
  };
  const out = alice.sendFile(content, ['bob'], { name: 'data.bin', mime: 'application/x-test' });
  await until(() => offers.length === 1, 'the offer');
  const incoming = offers[0]!;
  assert.equal(incoming.name, 'data.bin');
  assert.equal(incoming.size, content.length);
  assert.equal(incoming.mime, 'application/x-test');
  let blob: Blob | undefined;
  incoming.on('done', (b) => (blob = b));
  incoming.accept();
  await until(() => out.status('bob')?.state === 'delivered', 'delivery');
  assert.ok(blob);
  assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), content);
  assert.equal(blob.type, 'application/x-test');
  assert.deepEqual(progressFromBob, [1024 * 1024, 2 * 1024 * 1024, content.length]);
  assert.equal(out.status('bob')?.confirmed, content.length);
});

test('the sender reads the next slice only once sendMessage took the previous one', async () => {
  const { net, aliceCall, alice, offers } = setup();
  let sliced = 0;
  const size = 8 * 1024 * 1024;
  const blob = new Blob([randomFile(size)]);
  const original = blob.slice.bind(blob);
  blob.slice = ((start?: number, end?: number) => {
    sliced += (end ?? size) - (start ?? 0);
    return original(start, end);
  }) as typeof blob.slice;
  alice.sendFile(blob, ['bob'], { name: 'big.bin' });
  await until(() => offers.length === 1, 'the offer');
  const hashingReads = sliced;
  assert.equal(hashingReads, size, 'the hash reads the file once');
  net.stalled = true;
  offers[0]!.accept();
  await new Promise((r) => setTimeout(r, 100));
  // The offer's answer got through before the stall? Then at most CAPACITY chunks are
  // queued plus one being read: never the file.
  const streamed = sliced - hashingReads;
  assert.ok(streamed <= (FakeSender.CAPACITY + 1) * 65536, `read ${streamed} bytes while the network was stalled`);
  net.stalled = false;
  aliceCall.resume();
});

test('a declined offer is reported to the sender and nothing is sent', async () => {
  const { net, alice, offers } = setup();
  let chunks = 0;
  net.tap = (_f, _t, data) => {
    if (data[0] === 0x03) chunks++;
    return data;
  };
  const out = alice.sendFile(randomFile(100000), ['bob'], { name: 'x.bin' });
  await until(() => offers.length === 1, 'the offer');
  offers[0]!.decline();
  await until(() => out.status('bob')?.state === 'declined', 'the decline');
  assert.equal(chunks, 0);
});

test('a corrupted byte fails the SHA-256 check on both sides and nothing is kept', async () => {
  const { net, alice, offers } = setup();
  net.tap = (from, _to, data) => {
    if (from === 'alice' && data[0] === 0x03 && data.length > 100) data[100] = data[100]! ^ 0xff;
    return data;
  };
  const out = alice.sendFile(randomFile(200000), ['bob'], { name: 'x.bin' });
  await until(() => offers.length === 1, 'the offer');
  const incoming = offers[0]!;
  incoming.accept();
  await until(() => incoming.state === 'failed', 'the receiver to fail');
  assert.equal(incoming.errorValue?.code, 'HASH_MISMATCH');
  assert.equal(incoming.file, undefined);
  await until(() => out.status('bob')?.state === 'failed', 'the sender to hear');
  assert.equal(out.status('bob')?.error?.code, 'HASH_MISMATCH');
});

test('chunks out of order make the receiver cancel', async () => {
  const { net, alice, offers } = setup();
  let n = 0;
  net.tap = (from, _to, data) => {
    if (from === 'alice' && data[0] === 0x03 && ++n === 2) data[24] = data[24]! ^ 0x01; // offset off by one
    return data;
  };
  const out = alice.sendFile(randomFile(300000), ['bob'], { name: 'x.bin' });
  await until(() => offers.length === 1, 'the offer');
  offers[0]!.accept();
  await until(() => out.status('bob')?.state === 'failed', 'the cancel');
  assert.equal(out.status('bob')?.error?.code, 'CANCELLED');
  assert.match(offers[0]!.errorValue?.message ?? '', /expected byte 65536/);
});

test('a recipient who drops out resumes from the bytes it has when it is back', async () => {
  const { net, alice, bob, offers } = setup();
  const content = randomFile(3 * 1024 * 1024);
  const accepts: number[] = [];
  net.tap = (from, _to, data) => {
    const m = decodeFileMessage(data);
    if (from === 'bob' && 'kind' in m && m.kind === 'accept') accepts.push(m.offset);
    return data;
  };
  const out = alice.sendFile(content, ['bob'], { name: 'resume.bin' });
  await until(() => offers.length === 1, 'the offer');
  const incoming = offers[0]!;
  let blob: Blob | undefined;
  incoming.on('done', (b) => (blob = b));
  incoming.accept();
  await until(() => incoming.received >= 1024 * 1024, 'a first MiB');
  net.leave('bob');
  await until(() => out.status('bob')?.state === 'interrupted', 'the sender to notice');
  assert.equal(incoming.state, 'receiving'); // bob's old call does not hear that it left
  const had = incoming.received;
  bob.useCall(net.join('bob'));
  assert.equal(incoming.state, 'interrupted');
  await until(() => out.status('bob')?.state === 'delivered', 'the resumed delivery');
  assert.ok(blob);
  assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), content);
  assert.deepEqual(accepts, [0, had], 'the second ACCEPT asks for the bytes after those bob has');
  assert.ok(had > 0 && had < content.length);
  assert.equal(offers.length, 1, 'the re-offer is not a new offer');
});

test('an id offered again resumes only the same size and SHA-256; other bytes are a new offer', async () => {
  const { net, alice, offers } = setup();
  const content = randomFile(3 * 1024 * 1024);
  alice.sendFile(content, ['bob'], { name: 'again.bin' });
  await until(() => offers.length === 1, 'the offer');
  const first = offers[0]!;
  first.accept();
  await until(() => first.received >= 1024 * 1024, 'a first MiB');
  net.leave('alice'); // a sender stopped mid-transfer; what it offers next comes raw
  await until(() => first.state === 'interrupted', 'bob to notice');
  const offer = (sha256: string): void =>
    net.deliver('alice', ['bob'], encodeFileMessage({ kind: 'offer', offer: { id: first.id, name: 'again.bin', size: content.length, sha256 } }));
  offer(first.sha256);
  await until(() => first.state === 'receiving', 'the resume');
  assert.equal(offers.length, 1, 'the same file again is not a new offer');
  offer('0'.repeat(64));
  await until(() => offers.length === 2, 'a new offer');
  assert.equal(first.state, 'failed');
  assert.match(first.errorValue?.message ?? '', /other bytes under this transfer id/);
  assert.equal(offers[1]!.received, 0);
  assert.equal(offers[1]!.sha256, '0'.repeat(64));
});

test('a chunk wholly below the received offset is skipped; one past it cancels', async () => {
  const { net, alice, offers } = setup();
  let n = 0;
  let replay: Uint8Array | undefined;
  net.tap = (from, _to, data) => {
    if (from !== 'alice' || data[0] !== 0x03) return data;
    n++;
    if (n === 1) replay = data.slice();
    // The second chunk arrives as a repeat of the first, then the real one follows.
    return n === 2 && replay ? replay : data;
  };
  const out = alice.sendFile(randomFile(300000), ['bob'], { name: 'x.bin' });
  await until(() => offers.length === 1, 'the offer');
  offers[0]!.accept();
  // The repeat is skipped, so the real second chunk is then one past: cancelled.
  await until(() => out.status('bob')?.state === 'failed', 'the cancel');
  assert.match(offers[0]!.errorValue?.message ?? '', /a chunk at byte 131072 .* expected byte 65536/);
});
