// Switching between the server path and the direct path without loss: ACK codec, the
// sender's and receiver's logs, and a randomized simulation of the whole protocol
// (tests/core/path_switch_test.cpp).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ByteWriter, loadU32 } from '../../src/core/bytes.js';
import { decodeFrame, FrameType } from '../../src/core/frame.js';
import {
  decodeDirectAck,
  DIRECT_ACK_SIZE,
  DIRECT_ACK_TYPE,
  DirectReceiveLog,
  DirectSendLog,
  encodeDirectAck,
  splitResentPayload,
  type DirectAck,
} from '../../src/core/pathSwitch.js';
import { Random } from '../../src/core/random.js';

function message(n: number): Uint8Array {
  const w = new ByteWriter(4);
  w.u32(n);
  return w.copy();
}

const number = (b: Uint8Array): number => loadU32(b, 0);

describe('DirectAck', () => {
  test('round-trips and rejects every other shape', () => {
    const ack: DirectAck = { session: 7, received: [3, 4000000000] };
    const bytes = encodeDirectAck(ack);
    assert.equal(bytes.length, DIRECT_ACK_SIZE);
    assert.equal(bytes[0], DIRECT_ACK_TYPE);
    const decoded = decodeDirectAck(bytes);
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value, ack);
    assert.equal(decodeDirectAck(new Uint8Array([...bytes, 0])).ok, false);
    assert.equal(decodeDirectAck(bytes.subarray(0, 12)).ok, false);
    assert.equal(decodeDirectAck(new Uint8Array(0)).ok, false);
    const otherType = bytes.slice();
    otherType[0] = 2;
    const r = decodeDirectAck(otherType);
    assert.equal(r.ok, false);
    assert.equal(r.ok ? undefined : r.error.code, 'INVALID_ARGUMENT');
  });
});

describe('DirectSendLog', () => {
  test('keeps what was not acknowledged and resends it in order', () => {
    const log = new DirectSendLog(5);
    for (let i = 0; i < 4; i++) log.sent('Normal', message(i));
    log.sent('High', message(100));
    assert.equal(log.unackedMessages, 5);
    assert.equal(log.unackedBytes, 20);

    assert.equal(log.acknowledged({ session: 5, received: [2, 0] }), undefined);
    assert.equal(log.acknowledged({ session: 5, received: [1, 0] }), undefined); // stale
    assert.equal(log.acknowledged({ session: 6, received: [4, 1] }), undefined); // another session
    assert.equal(log.unackedMessages, 3);
    assert.equal(log.acknowledged({ session: 5, received: [9, 0] })?.code, 'INVALID_ARGUMENT'); // more than sent

    const seen: [number, number][] = []; // (index, message)
    for (const { cls, bytes } of log.takeResends(42)) {
      assert.equal(cls.reliability, 'Durable');
      const r = decodeFrame(bytes);
      assert.ok(r.ok);
      assert.equal(r.value.next, bytes.length);
      const { header, to, payload } = r.value.frame;
      assert.equal(header.type, FrameType.Resent);
      assert.equal(header.sequence, 5);
      assert.equal(header.priority, cls.priority);
      assert.deepEqual(to, [42]);
      const inner = splitResentPayload(payload);
      seen.push([inner.index, number(inner.message)]);
    }
    assert.deepEqual(seen, [
      [2, 2],
      [3, 3],
      [0, 100],
    ]);
    assert.equal(log.unackedBytes, 0);
    assert.equal(log.unackedMessages, 0);
  });

  test('keeps a copy: the caller may reuse its buffer', () => {
    const log = new DirectSendLog(1);
    const buffer = message(7);
    log.sent('Normal', buffer);
    buffer.fill(0);
    const [resent] = log.takeResends(2);
    const r = decodeFrame(resent!.bytes);
    assert.ok(r.ok);
    assert.equal(number(splitResentPayload(r.value.frame.payload).message), 7);
  });
});

describe('DirectReceiveLog', () => {
  test('holds direct messages until the switch arrives', () => {
    const log = new DirectReceiveLog(1);
    assert.equal(log.onDirect('Normal', message(1)), 'hold');
    assert.equal(log.onDirect('Normal', message(2)), 'hold');
    assert.equal(log.heldBytes, 8);
    assert.equal(log.ackDue(), undefined); // nothing taken in yet

    assert.deepEqual(log.onSwitch('High'), []); // the other class's switch releases nothing here
    const out = log.onSwitch('Normal');
    assert.deepEqual(out.map(number), [1, 2]);
    assert.equal(log.heldBytes, 0);
    assert.equal(log.onDirect('Normal', message(3)), 'deliver');
    assert.equal(log.onDirect('High', message(9)), 'deliver');

    assert.deepEqual(log.ackDue(), { session: 1, received: [3, 1] });
    assert.equal(log.ackDue(), undefined); // nothing new since
  });

  test('resent messages are taken in once, whichever path is first', () => {
    const log = new DirectReceiveLog(1);
    log.onSwitch('Normal');
    assert.equal(log.onDirect('Normal', message(0)), 'deliver');
    // Index 0 came directly; 1 and 2 come through the server first, then directly too.
    assert.equal(log.onResent('Normal', 0), 'drop');
    assert.equal(log.onResent('Normal', 1), 'deliver');
    assert.equal(log.onResent('Normal', 2), 'deliver');
    assert.equal(log.onDirect('Normal', message(1)), 'drop');
    assert.equal(log.onDirect('Normal', message(2)), 'drop');
    assert.equal(log.onDirect('Normal', message(3)), 'deliver');
  });

  // What packet loss produced: the call leaves direct session 1 with messages
  // unacknowledged (they go through the server as RESENT), enters direct session 2, and the
  // new session's direct messages all arrive long before the server path has carried the
  // RESENT run and the SWITCH behind it. However many arrive, they wait, and the receiver
  // takes in 0..N in order. (A timed release used to let them overtake the RESENT run.)
  test('a new session waits behind the RESENT run of the one before it', () => {
    const received: number[] = [];
    const send1 = new DirectSendLog(1);
    const receive1 = new DirectReceiveLog(1);
    assert.deepEqual(receive1.onSwitch('Normal'), []); // session 1 is up
    for (let i = 0; i < 10; i++) {
      send1.sent('Normal', message(i));
      if (i < 4) {
        // the direct path delivers 0..3, then fails
        assert.equal(receive1.onDirect('Normal', message(i)), 'deliver');
        received.push(i);
      }
    }
    assert.equal(send1.acknowledged(receive1.ackDue()!), undefined);
    const resent = send1.takeResends(2); // 4..9, through the server
    assert.equal(resent.length, 6);

    const send2 = new DirectSendLog(2);
    const receive2 = new DirectReceiveLog(2);
    const direct = 5000;
    for (let i = 10; i < 10 + direct; i++) {
      send2.sent('Normal', message(i));
      assert.equal(receive2.onDirect('Normal', message(i)), 'hold');
    }
    assert.equal(receive2.heldBytes, direct * 4);
    assert.equal(receive2.ackDue(), undefined); // held is not taken in: the sender keeps its copies

    for (const { bytes } of resent) {
      // the server path catches up: RESENT, then SWITCH
      const r = decodeFrame(bytes);
      assert.ok(r.ok);
      const payload = splitResentPayload(r.value.frame.payload);
      assert.equal(receive1.onResent('Normal', payload.index), 'deliver');
      received.push(number(payload.message));
    }
    for (const m of receive2.onSwitch('Normal')) received.push(number(m));

    assert.equal(received.length, 10 + direct);
    for (let i = 0; i < received.length; i++) {
      if (received[i] !== i) assert.fail(`message ${received[i]} arrived at position ${i}`);
    }
    assert.equal(receive2.heldBytes, 0);
  });
});

// The whole protocol between one sender and one receiver, with the paths as queues that
// deliver in order, each at its own random pace: the sender moves between the server path
// and new direct sessions at random, and a direct path that is left either keeps
// delivering what it carries, loses all of it, or loses what it had not delivered yet.
// Whatever happens, the receiver takes in every message once, in order.
type ServerItem =
  | { kind: 'data'; bytes: Uint8Array }
  | { kind: 'switch'; session: number }
  | { kind: 'resent'; session: number; bytes: Uint8Array };

interface Direct {
  toReceiver: Uint8Array[];
  toSender: DirectAck[];
  alive: boolean;
}

class SwitchSimulation {
  private readonly rng: Random;
  private next = 0;
  private session = 0;
  private log: DirectSendLog | undefined;
  private readonly server: ServerItem[] = [];
  private readonly direct = new Map<number, Direct>();
  private readonly receiveLogs = new Map<number, DirectReceiveLog>();
  private readonly received: number[] = [];

  constructor(seed: number) {
    this.rng = new Random(seed);
  }

  run(messages: number): number[] {
    while (this.next < messages) this.step(true);
    this.leaveDirect();
    while (!this.idle()) this.step(false);
    return this.received;
  }

  private idle(): boolean {
    if (this.server.length > 0) return false;
    for (const d of this.direct.values()) if (d.alive && (d.toReceiver.length > 0 || d.toSender.length > 0)) return false;
    return true;
  }

  private step(sending: boolean): void {
    const roll = this.rng.int(0, 99);
    if (sending && roll < 40) {
      this.send(message(this.next++));
    } else if (sending && roll < 42) {
      if (this.log) this.leaveDirect();
      else this.enterDirect();
    } else if (roll < 65) {
      this.deliverServer();
    } else if (roll < 90) {
      this.deliverDirect();
    } else {
      this.deliverAck();
    }
  }

  private send(m: Uint8Array): void {
    if (this.log) {
      this.direct.get(this.log.session)!.toReceiver.push(m);
      this.log.sent('Normal', m);
    } else {
      this.server.push({ kind: 'data', bytes: m });
    }
  }

  private enterDirect(): void {
    this.log = new DirectSendLog(++this.session);
    this.direct.set(this.session, { toReceiver: [], toSender: [], alive: true });
    this.server.push({ kind: 'switch', session: this.session });
  }

  private leaveDirect(): void {
    if (!this.log) return;
    const d = this.direct.get(this.log.session)!;
    const fate = this.rng.int(0, 2);
    if (fate === 1) d.alive = false; // lost with everything in flight
    if (fate === 2) d.toReceiver.length = this.rng.int(0, d.toReceiver.length); // loses a random tail
    for (const { bytes } of this.log.takeResends(2)) this.server.push({ kind: 'resent', session: this.log.session, bytes });
    this.log = undefined;
  }

  private receiveLog(session: number): DirectReceiveLog {
    let log = this.receiveLogs.get(session);
    if (!log) this.receiveLogs.set(session, (log = new DirectReceiveLog(session)));
    return log;
  }

  private take(m: Uint8Array): void {
    this.received.push(number(m));
  }

  private deliverServer(): void {
    const item = this.server.shift();
    if (!item) return;
    switch (item.kind) {
      case 'data':
        this.take(item.bytes);
        break;
      case 'switch':
        for (const m of this.receiveLog(item.session).onSwitch('Normal')) this.take(m);
        break;
      case 'resent': {
        const r = decodeFrame(item.bytes);
        assert.ok(r.ok);
        const inner = splitResentPayload(r.value.frame.payload);
        if (this.receiveLog(item.session).onResent('Normal', inner.index) === 'deliver') this.take(inner.message);
        break;
      }
    }
  }

  private deliverDirect(): void {
    for (const [session, d] of this.direct) {
      if (!d.alive || d.toReceiver.length === 0) continue;
      const m = d.toReceiver.shift()!;
      const log = this.receiveLog(session);
      if (log.onDirect('Normal', m) === 'deliver') this.take(m);
      const ack = log.ackDue();
      if (ack) d.toSender.push(ack);
      return;
    }
  }

  private deliverAck(): void {
    for (const d of this.direct.values()) {
      if (!d.alive || d.toSender.length === 0) continue;
      const ack = d.toSender.shift()!;
      if (this.log) assert.equal(this.log.acknowledged(ack), undefined);
      return;
    }
  }
}

describe('PathSwitch', () => {
  test('every message arrives once and in order across random switches', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const received = new SwitchSimulation(seed).run(2000);
      assert.equal(received.length, 2000, `seed ${seed}`);
      for (let i = 0; i < received.length; i++) {
        if (received[i] !== i) assert.fail(`seed ${seed}: message ${received[i]} arrived at position ${i}`);
      }
    }
  });
});
