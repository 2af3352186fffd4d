// Golden frames: the byte strings docs/protocol.md prints (and the C++ codec's tests
// pin), hard-coded here, so the TypeScript codec stays byte-exact with the C++ one.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { decodeFrame, encodeFrame, frameHeader, FrameType } from '../../src/core/frame.js';
import {
  decodeDirectAck,
  encodeDirectAck,
  encodeResentFrame,
  encodeSwitchFrame,
  splitResentPayload,
} from '../../src/core/pathSwitch.js';

function hex(s: string): Uint8Array {
  const digits = s.replace(/\s+/g, '');
  return Uint8Array.from(digits.match(/../g) ?? [], (h) => parseInt(h, 16));
}

// docs/protocol.md, "DataChannel frames" → "Example".
const DATA_EXAMPLE = hex(`
  01 01 13 00 27 10 01 02 03 04 00 00 00 02
  00 02 00 00 00 07 00 00 00 09
  68 69`);

test('Golden: the DATA example of the protocol document encodes and decodes', () => {
  const encoded = encodeFrame(
    frameHeader({ channelId: 10000, sequence: 0x01020304, reliability: 'Lossy', priority: 'High' }),
    [7, 9],
    new Uint8Array([0x68, 0x69]),
  );
  assert.deepEqual(encoded, DATA_EXAMPLE);
  const r = decodeFrame(DATA_EXAMPLE);
  assert.ok(r.ok);
  const { header, to, payload } = r.value.frame;
  assert.equal(header.type, FrameType.Data);
  assert.equal(header.reliability, 'Lossy');
  assert.equal(header.priority, 'High');
  assert.equal(header.channelId, 10000);
  assert.equal(header.sequence, 0x01020304);
  assert.deepEqual(to, [7, 9]);
  assert.deepEqual([...payload], [0x68, 0x69]);
});

test('Golden: the ACK example of the protocol document', () => {
  const ack = hex('01 00 00 00 03 00 00 00 2a 00 00 00 00');
  assert.deepEqual(encodeDirectAck({ session: 3, received: [42, 0] }), ack);
  const decoded = decodeDirectAck(ack);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value, { session: 3, received: [42, 0] });
});

test('Golden: the RESENT example of the protocol document', () => {
  // The direct transport message it wraps: 16,401 bytes starting 01 01 10 00.
  const message = new Uint8Array(16401).fill(0xab);
  message.set([0x01, 0x01, 0x10, 0x00]);
  const frame = encodeResentFrame(3, 'Normal', 7, 42, message);
  const head = hex(`
    01 04 10 00 00 00 00 00 00 03 00 00 40 15
    00 01 00 00 00 07
    00 00 00 2a
    01 01 10 00`);
  assert.deepEqual(frame.subarray(0, head.length), head);
  assert.equal(frame.length, 14 + 6 + 16405);
  const r = decodeFrame(frame);
  assert.ok(r.ok);
  const inner = splitResentPayload(r.value.frame.payload);
  assert.equal(inner.index, 42);
  assert.deepEqual(inner.message, message);
});

test('Golden: SWITCH, high class, session 3, to participant 7 (as the C++ tests pin it)', () => {
  assert.deepEqual(
    encodeSwitchFrame(3, 'High', 7),
    hex('01 03 12 00 00 00 00 00 00 03 00 00 00 00 00 01 00 00 00 07'),
  );
});

test('Golden: a server-stamped fragment and a CLOSE, field by field from the header table', () => {
  // DATA, durable normal, FRAGMENT|FROM, channel 1, sequence 2, L = 3,
  // M = 0x10000, O = 0x4000, FROM = 0x01020304, payload "abc".
  const fragment = hex(`
    01 01 0c 00 00 01 00 00 00 02 00 00 00 03
    00 01 00 00 00 00 40 00
    01 02 03 04
    61 62 63`);
  assert.deepEqual(
    encodeFrame(
      frameHeader({ channelId: 1, sequence: 2, fragmented: true, messageSize: 0x10000, fragmentOffset: 0x4000, from: 0x01020304 }),
      [],
      new Uint8Array([0x61, 0x62, 0x63]),
    ),
    fragment,
  );
  // CLOSE, durable high, no TO, channel 0xffff, last sequence 0xffffffff.
  const close = hex('01 02 02 00 ff ff ff ff ff ff 00 00 00 00');
  assert.deepEqual(
    encodeFrame(frameHeader({ type: FrameType.Close, priority: 'High', channelId: 0xffff, sequence: 0xffffffff })),
    close,
  );
  assert.ok(decodeFrame(fragment).ok);
  assert.ok(decodeFrame(close).ok);
});
