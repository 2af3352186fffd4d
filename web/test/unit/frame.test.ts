// The frame codec: layout, round trips and every rejection (tests/core/frame_test.cpp).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { ErrorCode } from '../../src/core/errors.js';
import {
  decodeFrame,
  decodeFrames,
  encodedFrameSize,
  encodeFrame,
  frameHeader,
  FrameType,
  type FrameHeader,
} from '../../src/core/frame.js';
import { str, text } from './support.js';

function dataHeader(channelId: number, sequence: number, fields: Partial<FrameHeader> = {}): FrameHeader {
  return frameHeader({ channelId, sequence, ...fields });
}

function decodeError(bytes: Uint8Array): ErrorCode {
  const r = decodeFrame(bytes);
  assert.equal(r.ok, false, 'decoded a frame that should be rejected');
  return r.ok ? 'INTERNAL' : r.error.code;
}

function decodeOk(bytes: Uint8Array) {
  const r = decodeFrame(bytes);
  if (!r.ok) assert.fail(r.error.message);
  return r.value;
}

test('Frame: layout matches the protocol document', () => {
  const b = encodeFrame(dataHeader(0x2710, 0x01020304, { reliability: 'Lossy', priority: 'High' }), [7, 9], text('hi'));
  assert.deepEqual(
    [...b],
    [
      0x01, 0x01, 0x13, 0x00, 0x27, 0x10, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00,
      0x07, 0x00, 0x00, 0x00, 0x09, 0x68, 0x69,
    ],
  );
  assert.equal(b.length, encodedFrameSize(dataHeader(1, 1), 2, 2));
});

test('Frame: round-trips DATA with recipients', () => {
  const { frame, next } = decodeOk(encodeFrame(dataHeader(10000, 42, { priority: 'High' }), [3, 4, 5], text('hello')));
  assert.equal(next, 14 + 2 + 12 + 5);
  assert.equal(frame.header.type, FrameType.Data);
  assert.equal(frame.header.channelId, 10000);
  assert.equal(frame.header.sequence, 42);
  assert.equal(frame.header.priority, 'High');
  assert.equal(frame.header.reliability, 'Durable');
  assert.equal(frame.header.from, undefined);
  assert.deepEqual(frame.to, [3, 4, 5]);
  assert.equal(str(frame.payload), 'hello');
});

test('Frame: round-trips a fragment with its sender', () => {
  const h = dataHeader(65535, 0xffffffff, { fragmented: true, messageSize: 100000, fragmentOffset: 16384, from: 77 });
  const { frame } = decodeOk(encodeFrame(h, [], text('piece')));
  assert.equal(frame.header.fragmented, true);
  assert.equal(frame.header.messageSize, 100000);
  assert.equal(frame.header.fragmentOffset, 16384);
  assert.equal(frame.header.from, 77);
  assert.equal(frame.header.sequence, 0xffffffff);
  assert.deepEqual(frame.to, []);
});

test('Frame: a participant id above 2^31 survives the round trip', () => {
  const { frame } = decodeOk(encodeFrame(dataHeader(1, 1, { from: 0xfffffffe }), [0x80000000], text('x')));
  assert.equal(frame.header.from, 0xfffffffe);
  assert.deepEqual(frame.to, [0x80000000]);
});

test('Frame: round-trips CLOSE', () => {
  const { frame } = decodeOk(encodeFrame(dataHeader(5, 12, { type: FrameType.Close }), [2]));
  assert.equal(frame.header.type, FrameType.Close);
  assert.equal(frame.header.sequence, 12);
  assert.equal(frame.payload.length, 0);
});

test('Frame: decodes several frames from one buffer', () => {
  const a = encodeFrame(dataHeader(1, 1), [], text('a'));
  const b = encodeFrame(dataHeader(2, 2), [], text('bb'));
  const both = new Uint8Array([...a, ...b]);
  const first = decodeOk(both);
  const second = decodeFrame(both, first.next);
  assert.ok(second.ok);
  assert.equal(str(first.frame.payload), 'a');
  assert.equal(str(second.value.frame.payload), 'bb');
  assert.equal(second.value.next, both.length);
  const all = decodeFrames(both);
  assert.equal(all.error, undefined);
  assert.deepEqual(all.frames.map((f) => str(f.payload)), ['a', 'bb']);
});

test('Frame: a malformed frame rejects the rest of the transport message', () => {
  const good = encodeFrame(dataHeader(1, 1), [], text('a'));
  const bad = encodeFrame(dataHeader(0, 1), [], text('b'));
  const after = encodeFrame(dataHeader(3, 1), [], text('c'));
  const all = decodeFrames(new Uint8Array([...good, ...bad, ...after]));
  assert.equal(all.frames.length, 1);
  assert.equal(all.error?.code, 'INVALID_CHANNEL_ID');
});

test('Frame: rejects every truncation', () => {
  const full = encodeFrame(dataHeader(3, 3, { fragmented: true, messageSize: 10, from: 1 }), [4, 5], text('abc'));
  for (let len = 0; len < full.length; len++) {
    assert.equal(decodeFrame(full.subarray(0, len)).ok, false, `prefix of ${len} bytes decoded`);
  }
  assert.equal(decodeFrame(full).ok, true);
});

test('Frame: rejects unknown version, type, flags and reserved byte', () => {
  const good = encodeFrame(dataHeader(1, 1), [], text('x'));
  for (const [at, value] of [
    [0, 2],
    [0, 0],
    [1, 9],
    [1, 0],
    [1, 5],
    [2, 0x80],
    [2, 0x20],
    [3, 1],
  ] as const) {
    const b = good.slice();
    b[at] = value;
    assert.equal(decodeError(b), 'INVALID_ARGUMENT', `byte ${at} = ${value}`);
  }
});

test('Frame: channel 0 is rejected with INVALID_CHANNEL_ID', () => {
  assert.equal(decodeError(encodeFrame(dataHeader(0, 1), [], text('x'))), 'INVALID_CHANNEL_ID');
  assert.equal(decodeError(encodeFrame(dataHeader(0, 1, { type: FrameType.Close }))), 'INVALID_CHANNEL_ID');
});

test('Frame: empty DATA is rejected with MESSAGE_EMPTY', () => {
  assert.equal(decodeError(encodeFrame(dataHeader(1, 1), [], new Uint8Array(0))), 'MESSAGE_EMPTY');
});

test('Frame: more than 64 recipients is rejected with TOO_MANY_PARTICIPANTS', () => {
  const to = Array.from({ length: 65 }, (_, i) => i + 1);
  assert.equal(decodeError(encodeFrame(dataHeader(1, 1), to, text('x'))), 'TOO_MANY_PARTICIPANTS');
  assert.equal(decodeOk(encodeFrame(dataHeader(1, 1), to.slice(0, 64), text('x'))).frame.to.length, 64);
});

test('Frame: an empty recipient list is rejected', () => {
  const b = encodeFrame(dataHeader(1, 1), [7], text('x'));
  b[14] = 0;
  b[15] = 0; // count 0
  assert.equal(decodeError(b), 'INVALID_ARGUMENT');
});

test('Frame: a fragment reaching past its message is rejected', () => {
  const h = dataHeader(1, 1, { fragmented: true, messageSize: 4, fragmentOffset: 2 });
  assert.equal(decodeError(encodeFrame(h, [], text('abc'))), 'INVALID_ARGUMENT');
  assert.equal(decodeFrame(encodeFrame({ ...h, fragmentOffset: 1 }, [], text('abc'))).ok, true);
});

test('Frame: messages over 16 MiB are rejected with MESSAGE_TOO_LARGE', () => {
  const h = dataHeader(1, 1, { fragmented: true, messageSize: 16 * 1024 * 1024 + 1 });
  assert.equal(decodeError(encodeFrame(h, [], text('abc'))), 'MESSAGE_TOO_LARGE');
  assert.equal(decodeFrame(encodeFrame({ ...h, messageSize: 16 * 1024 * 1024 }, [], text('abc'))).ok, true);
});

test('Frame: CLOSE with a payload, and sender 0, are rejected', () => {
  assert.equal(decodeError(encodeFrame(dataHeader(1, 1, { type: FrameType.Close }), [], text('x'))), 'INVALID_ARGUMENT');
  assert.equal(
    decodeError(encodeFrame(dataHeader(1, 1, { type: FrameType.Close, fragmented: true, messageSize: 0 }))),
    'INVALID_ARGUMENT',
  );
  assert.equal(decodeError(encodeFrame(dataHeader(1, 1, { from: 0 }), [], text('x'))), 'INVALID_ARGUMENT');
});

test('Frame: a length field claiming more than the buffer is rejected', () => {
  const b = encodeFrame(dataHeader(1, 1), [], text('x'));
  b[13] = 0xff;
  assert.equal(decodeError(b), 'INVALID_ARGUMENT');
});

function controlHeader(type: FrameType, session: number, fields: Partial<FrameHeader> = {}): FrameHeader {
  return frameHeader({ type, channelId: 0, sequence: session, ...fields });
}

test('Frame: path-control frames round-trip on channel 0', () => {
  const sw = encodeFrame(controlHeader(FrameType.Switch, 3, { priority: 'High' }), [7]);
  assert.deepEqual(
    [...sw],
    [0x01, 0x03, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07],
  );
  const decoded = decodeOk(sw).frame;
  assert.equal(decoded.header.type, FrameType.Switch);
  assert.equal(decoded.header.sequence, 3);
  assert.equal(decoded.header.priority, 'High');

  const resent = decodeOk(encodeFrame(controlHeader(FrameType.Resent, 3), [], new Uint8Array([0, 0, 0, 5, 0x6d, 0x73, 0x67])));
  assert.equal(resent.frame.header.type, FrameType.Resent);
  assert.equal(resent.frame.payload.length, 7);
});

test('Frame: path-control frames that break their rules are rejected', () => {
  assert.equal(decodeError(encodeFrame(controlHeader(FrameType.Switch, 1), [], text('x'))), 'INVALID_ARGUMENT');
  assert.equal(decodeError(encodeFrame(controlHeader(FrameType.Resent, 1), [], text('abcd'))), 'INVALID_ARGUMENT');
  assert.equal(decodeError(encodeFrame(controlHeader(FrameType.Switch, 1, { channelId: 5 }))), 'INVALID_ARGUMENT');
  assert.equal(
    decodeError(encodeFrame(controlHeader(FrameType.Resent, 1, { reliability: 'Lossy' }), [], text('abcde'))),
    'INVALID_ARGUMENT',
  );
  assert.equal(
    decodeError(encodeFrame(controlHeader(FrameType.Resent, 1, { fragmented: true, messageSize: 9 }), [], text('abcde'))),
    'INVALID_ARGUMENT',
  );
  const b = encodeFrame(controlHeader(FrameType.Switch, 1));
  b[1] = 5; // no type after RESENT
  assert.equal(decodeError(b), 'INVALID_ARGUMENT');
});

test('Frame: decoding never reads past the end of a random buffer', () => {
  // A cheap fuzz: random bytes behind a valid-looking version byte either decode within
  // bounds or fail with a known code.
  let x = 12345;
  const rand = (): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x >>> 16;
  };
  for (let i = 0; i < 20000; i++) {
    const b = new Uint8Array(rand() % 40);
    for (let j = 0; j < b.length; j++) b[j] = rand() & 0xff;
    if (b.length > 0) b[0] = 1;
    if (b.length > 3) b[3] = 0;
    const r = decodeFrame(b);
    if (r.ok) assert.ok(r.value.next <= b.length);
  }
});
