// The bound on sendMessage's waiting line (src/client/callEngine.ts): past a full sender
// queue, messages wait for room up to the sender's bufferLimit in bytes; the next one is
// refused at once with BUFFER_FULL and takes no sequence number, and the ones that waited
// still go in order. With E2EE every message waits in that line to be sealed, so the same
// bound holds there.
//
// The engine makes its CallTransport itself; the test puts a fake in its place and drives
// the engine through the handlers the transport would call (joined, connected, writable).

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';

import { CallEngine } from '../../src/client/callEngine.js';
import type { DataChannelSender } from '../../src/client/dataChannel.js';
import { E2eeKeys } from '../../src/client/e2eeKeys.js';
import type { JoinedMessage } from '../../src/client/signaling.js';
import { SwitchboardError, type ErrorCode } from '../../src/core/errors.js';
import type { TrafficClass } from '../../src/core/trafficClass.js';
import { filled } from './support.js';

const KIB = 1024;
const MIB = 1024 * KIB;

// Stands in for the CallTransport: takes transport messages while `open`, refuses them
// otherwise (a full send buffer, or a full log of unacknowledged copies).
class FakeTransport {
  open = false;
  taken = 0;
  bufferedAmount = 0;
  start(): void {}
  leave(): void {}
  send(_cls: TrafficClass, _bytes: Uint8Array): boolean {
    if (this.open) this.taken++;
    return this.open;
  }
}

// What the test reaches inside the engine.
interface Inside {
  transport: FakeTransport;
  onJoined(joined: JoinedMessage): void;
  onConnected(): void;
  flush(): void;  // the transport's `writable`
}

function joined(maxMessageSize: number): JoinedMessage {
  return {
    type: 'joined',
    call: 'call-1',
    participantId: 1,
    identity: 'alice',
    displayName: 'Alice',
    participants: [{ participantId: 2, identity: 'bob', displayName: 'Bob' }],
    iceServers: [],
    maxMessageSize,
  };
}

// A connected engine (alice, with bob in the call) on a fake transport, and a sender.
function connected(options: { maxMessageSize?: number; e2ee?: E2eeKeys } = {}): {
  link: FakeTransport;
  inside: Inside;
  sender: DataChannelSender;
} {
  const engine = new CallEngine(
    { server: 'ws://127.0.0.1:1', callId: 'call-1', token: 't', p2p: false, reconnectTimeoutMs: 0 },
    options.e2ee,
  );
  const inside = engine as unknown as Inside;
  const link = new FakeTransport();
  inside.transport = link;
  inside.onJoined(joined(options.maxMessageSize ?? 256 * KIB));
  inside.onConnected();
  const sender = engine.feature.createDataChannelSender({ reliability: 'Durable' });
  return { link, inside, sender };
}

// Settles to the sequence number, or the error's code.
function outcome(promise: Promise<number>): Promise<number | ErrorCode> {
  return promise.then(
    (sequence) => sequence,
    (e: unknown) => {
      assert.ok(e instanceof SwitchboardError, `expected a SwitchboardError, got ${String(e)}`);
      return e.code;
    },
  );
}

// Whether the promise settled by the time the microtasks queued now have run.
async function settledNow(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return settled;
}

describe('CallEngine sendMessage', () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout'] });
    mock.method(performance, 'now', () => 1_000_000);
  });
  afterEach(() => {
    mock.timers.reset();
    mock.restoreAll();
  });

  test('past a full queue, messages wait up to the buffer limit; the next is refused with BUFFER_FULL and takes no number', async () => {
    const { link, inside, sender } = connected();
    assert.equal(sender.core.bufferLimit, 4 * MIB);
    const size = 256 * KIB;

    // 16 messages fill the queue; 16 more wait for room, 4 MiB in all.
    const queued = Array.from({ length: 16 }, () => sender.sendMessage(filled(size)));
    assert.deepEqual(await Promise.all(queued), Array.from({ length: 16 }, (_, i) => i + 1));
    const order: number[] = [];
    const waiting = Array.from({ length: 16 }, () => sender.sendMessage(filled(size)).then((s) => (order.push(s), s)));
    assert.equal(sender.bufferedAmount, sender.core.bufferedAmount + 4 * MIB);

    // Even one byte more is refused, at once, while the others still wait.
    const refused = sender.sendMessage(filled(1));
    assert.equal(await outcome(refused), 'BUFFER_FULL');
    await assert.rejects(refused, /bytes waiting for room.*await sendMessage/);
    assert.equal(await settledNow(Promise.race(waiting)), false, 'the waiting messages still wait');
    assert.equal(sender.core.nextSequence, 17);

    // Room comes: the waiting ones go in, in order, with the numbers after the queued ones.
    link.open = true;
    inside.flush();
    assert.deepEqual(await Promise.all(waiting), Array.from({ length: 16 }, (_, i) => 17 + i));
    assert.deepEqual(order, Array.from({ length: 16 }, (_, i) => 17 + i));
    assert.equal(await sender.sendMessage(filled(1)), 33, 'the refused message took no number');
    assert.ok(link.taken > 0);
  });

  test('a refused message does not break the order: later ones that fit wait behind the earlier ones', async () => {
    const { link, inside, sender } = connected();
    const size = 256 * KIB;
    for (let i = 0; i < 16; i++) void sender.sendMessage(filled(size));
    // 15.5 of the 16 queue-fulls of room wait; a whole one more does not fit, half of one does.
    const first = Array.from({ length: 15 }, () => outcome(sender.sendMessage(filled(size))));
    first.push(outcome(sender.sendMessage(filled(size / 2))));
    const refused = outcome(sender.sendMessage(filled(size)));
    const last = outcome(sender.sendMessage(filled(size / 2)));
    assert.equal(await refused, 'BUFFER_FULL');

    link.open = true;
    inside.flush();
    assert.deepEqual(await Promise.all(first), Array.from({ length: 16 }, (_, i) => 17 + i));
    assert.equal(await last, 33);
  });

  test('a message as large as the buffer limit waits as the first in line; nothing more waits behind it', async () => {
    // With a 16 MiB maxMessageSize the sender's buffer limit is 16 MiB too.
    const { link, inside, sender } = connected({ maxMessageSize: 16 * MIB });
    assert.equal(sender.core.bufferLimit, 16 * MIB);
    const big = sender.maxMessageSize;
    assert.equal(await sender.sendMessage(filled(big)), 1);
    const waiting = outcome(sender.sendMessage(filled(big)));
    assert.equal(await outcome(sender.sendMessage(filled(1))), 'BUFFER_FULL');
    // One too large to send at all still says so, in its turn, not BUFFER_FULL.
    const tooLarge = outcome(sender.sendMessage(filled(big + 1)));

    link.open = true;
    inside.flush();
    assert.equal(await waiting, 2);
    assert.equal(await tooLarge, 'MESSAGE_TOO_LARGE');
    assert.equal(await sender.sendMessage(filled(1)), 3);
  });

  test('with E2EE, messages waiting to be sealed are bounded the same way', async () => {
    const keys = E2eeKeys.fromKeys([{ id: 1, key: new Uint8Array(32).fill(7) }]);
    const { link, sender } = connected({ e2ee: keys });
    link.open = true;
    const size = 64 * KIB;

    // Every message waits in line to be sealed, room or not: 64 of them are the 4 MiB bound.
    const waiting = Array.from({ length: 64 }, () => sender.sendMessage(filled(size)));
    const refused = sender.sendMessage(filled(1));
    assert.equal(await outcome(refused), 'BUFFER_FULL');
    assert.equal(sender.core.nextSequence, 1, 'nothing was sealed and queued yet');

    assert.deepEqual(await Promise.all(waiting), Array.from({ length: 64 }, (_, i) => i + 1));
    assert.equal(await sender.sendMessage(filled(1)), 65, 'the refused message took no number');
  });
});
