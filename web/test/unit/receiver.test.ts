// Receivers, reassembly and the endpoint's input side: announce before readable, close
// reasons, bounds, participants not yet announced, direct peers
// (tests/core/receiver_test.cpp).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { DataChannelEndpoint, type EndpointConfig } from '../../src/core/endpoint.js';
import { encodeFrame, frameHeader, FrameType, type DecodedFrame, type FrameHeader } from '../../src/core/frame.js';
import { LocalCall } from '../../src/core/localCall.js';
import { Reassembler } from '../../src/core/reassembler.js';
import { filled, Inbox, pattern, str, T0, text } from './support.js';

// alice and bob in one call; bob's receivers report to `inbox`.
function aliceAndBob(config: Partial<EndpointConfig> = {}, autoRead = true) {
  const call = new LocalCall(config);
  const alice = call.join('alice', T0);
  const bob = call.join('bob', T0);
  return { call, alice, bob, inbox: new Inbox(bob, autoRead) };
}

function member(id: number, identity: string) {
  return { id, identity, displayName: '' };
}

describe('Receiver', () => {
  test('is created on the first message and announced before it is readable', () => {
    const { call, alice, inbox } = aliceAndBob();
    const s = alice.createSender({ channelId: 10000 }, T0);
    call.pump(T0);
    assert.deepEqual(inbox.events, [], 'a sender alone creates no receiver');
    alice.send(s, text('hi'));
    call.pump(T0);
    assert.deepEqual(inbox.events, ['created 10000 alice readable=0', 'message 10000 alice 1']);
    assert.equal(inbox.receivers[0]!.senderIdentity, 'alice');
    assert.equal(inbox.receivers[0]!.channelId, 10000);
    assert.equal(inbox.receivers[0]!.sender, alice.self);
  });

  test('one receiver per sender and channel', () => {
    const call = new LocalCall();
    const alice = call.join('alice', T0);
    const bob = call.join('bob', T0);
    const inbox = new Inbox(call.join('carol', T0));
    const a1 = alice.createSender({ channelId: 1 }, T0);
    const a2 = alice.createSender({ channelId: 2 }, T0);
    const b1 = bob.createSender({ channelId: 1 }, T0);
    for (let i = 0; i < 3; i++) {
      alice.send(a1, text('x'));
      alice.send(a2, text('x'));
      bob.send(b1, text('x'));
    }
    call.pump(T0);
    assert.equal(inbox.receivers.length, 3);
    assert.equal(inbox.messages.length, 9);
  });

  test('readMessage returns nothing when empty and keeps order', () => {
    const { call, alice, inbox } = aliceAndBob({}, false);
    const s = alice.createSender({}, T0);
    alice.send(s, text('one'));
    alice.send(s, text('two'));
    call.pump(T0);
    const r = inbox.receivers[0]!;
    assert.equal(r.unreadMessages, 2);
    assert.equal(r.unreadBytes, 6);
    assert.equal(str(r.read()!.data), 'one');
    const second = r.read()!;
    assert.equal(second.sequenceNumber, 2);
    assert.equal(str(second.data), 'two');
    assert.equal(r.read(), undefined);
    assert.equal(r.unreadBytes, 0);
  });

  test('closes when the sender closes, and unread messages stay readable', () => {
    const { call, alice, inbox } = aliceAndBob({}, false);
    const s = alice.createSender({ channelId: 4 }, T0);
    alice.send(s, text('last words'));
    alice.close(s);
    call.pump(T0);
    const r = inbox.receivers[0]!;
    assert.equal(r.closed, true);
    assert.equal(r.closeReason, 'sender_closed');
    assert.equal(inbox.events.at(-1), 'closed 4 alice sender_closed');
    assert.equal(str(r.read()!.data), 'last words');
  });

  test('a CLOSE for which no receiver exists is ignored', () => {
    const { call, alice, inbox } = aliceAndBob();
    alice.close(alice.createSender({ channelId: 4 }, T0));
    call.pump(T0);
    assert.deepEqual(inbox.events, []);
  });

  test('closes when the sender leaves the call', () => {
    const { call, alice, inbox } = aliceAndBob();
    alice.send(alice.createSender({ channelId: 4 }, T0), text('bye'));
    call.pump(T0);
    call.leave(alice);
    assert.equal(inbox.events.at(-1), 'closed 4 alice participant_left');
  });

  test('closes after the idle timeout, and a new one follows later messages', () => {
    const { call, alice, bob, inbox } = aliceAndBob({ receiverIdleTimeoutMs: 30_000 });
    const s = alice.createSender({ channelId: 4 }, T0);
    alice.send(s, text('x'));
    call.pump(T0);
    assert.equal(bob.nextWakeup(T0), T0 + 30_000);
    bob.onTimer(T0 + 29_999);
    assert.equal(inbox.receivers[0]!.closed, false);
    bob.onTimer(T0 + 30_000);
    assert.equal(inbox.receivers[0]!.closeReason, 'idle');
    assert.equal(inbox.events.at(-1), 'closed 4 alice idle');
    assert.equal(bob.nextWakeup(T0 + 30_000), undefined);
    alice.send(s, text('y'));
    call.pump(T0 + 31_000);
    assert.equal(inbox.receivers.length, 2);
  });

  test('the default idle timeout is 120 seconds', () => {
    assert.equal(new DataChannelEndpoint(1).config.receiverIdleTimeoutMs, 120_000);
    assert.equal(new DataChannelEndpoint(1).config.receiveBufferLimit, 8 * 1024 * 1024);
  });

  test('the unread bound drops lossy messages', () => {
    const { call, alice, bob, inbox } = aliceAndBob({ receiveBufferLimit: 64 * 1024 }, false);
    const s = alice.createSender({ reliability: 'Lossy' }, T0);
    for (let i = 0; i < 10; i++) alice.send(s, filled(16 * 1024));
    call.pump(T0);
    const r = inbox.receivers[0]!;
    assert.equal(r.unreadBytes, 64 * 1024);
    assert.equal(r.droppedMessages, 6);
    assert.equal(bob.stats.lossyDroppedOnReceive, 6);
    assert.equal(bob.durableInputPaused, false, 'lossy traffic never pauses input');
  });

  test('the unread bound pauses durable input without losing messages', () => {
    const { call, alice, bob, inbox } = aliceAndBob({ receiveBufferLimit: 64 * 1024 }, false);
    const s = alice.createSender({}, T0);
    assert.equal(bob.durableInputPaused, false);
    for (let i = 0; i < 10; i++) alice.send(s, filled(16 * 1024));
    call.pump(T0);
    const r = inbox.receivers[0]!;
    assert.equal(bob.durableInputPaused, true);
    assert.equal(r.unreadMessages, 10, 'durable messages are never dropped');
    while (r.unreadBytes >= 64 * 1024) assert.ok(r.read());
    assert.equal(bob.durableInputPaused, false);
  });

  test('frames from a participant not yet announced wait for the roster', () => {
    const bob = new DataChannelEndpoint(2);
    bob.participantJoined(member(2, 'bob'), T0);
    const inbox = new Inbox(bob);
    const frame = encodeFrame(frameHeader({ channelId: 5, sequence: 1, from: 9 }), [], text('early'));
    assert.equal(bob.ingest(frame, T0), undefined);
    assert.deepEqual(inbox.events, []);
    bob.participantJoined(member(9, 'zoe'), T0);
    assert.equal(inbox.messages.length, 1);
    assert.equal(inbox.messages[0]!.from, 'zoe');
    assert.equal(str(inbox.messages[0]!.data), 'early');
  });

  test('held frames are bounded, and dropped when that participant leaves', () => {
    const bob = new DataChannelEndpoint(2);
    bob.participantJoined(member(2, 'bob'), T0);
    const inbox = new Inbox(bob);
    const big = filled(200 * 1024);
    for (let seq = 1; seq <= 8; seq++) bob.ingest(encodeFrame(frameHeader({ channelId: 5, sequence: seq, from: 9 }), [], big), T0);
    bob.ingest(encodeFrame(frameHeader({ channelId: 5, sequence: 1, from: 10 }), [], text('x')), T0);
    bob.participantLeft(10);
    bob.participantJoined(member(10, 'yves'), T0); // ids are never reused: nothing replays
    bob.participantJoined(member(9, 'zoe'), T0);
    assert.deepEqual(inbox.sequences, [1, 2, 3, 4, 5], 'at most 1 MiB waits');
  });

  test('frames from a participant who left are ignored', () => {
    const { call, alice, bob, inbox } = aliceAndBob();
    const id = alice.self;
    call.leave(alice);
    assert.equal(bob.ingest(encodeFrame(frameHeader({ channelId: 5, sequence: 1, from: id }), [], text('late')), T0), undefined);
    assert.deepEqual(inbox.messages, []);
  });

  test('malformed input is an error and counted', () => {
    const bob = new DataChannelEndpoint(2);
    const junk = new Uint8Array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
    assert.equal(bob.ingest(junk, T0)?.code, 'INVALID_CHANNEL_ID');
    assert.equal(bob.ingest(junk.subarray(0, 13), T0)?.code, 'INVALID_ARGUMENT');
    assert.equal(bob.stats.malformedFrames, 2);
    // No sender stamped: not acceptable from the server.
    const unstamped = encodeFrame(frameHeader({ channelId: 5, sequence: 1 }), [], text('x'));
    assert.equal(bob.ingest(unstamped, T0)?.code, 'INVALID_ARGUMENT');
  });

  test('a bad frame rejects the rest of its transport message, not the frames before it', () => {
    const bob = new DataChannelEndpoint(2);
    bob.participantJoined(member(1, 'alice'), T0);
    const inbox = new Inbox(bob);
    const good = encodeFrame(frameHeader({ channelId: 5, sequence: 1, from: 1 }), [], text('a'));
    const bad = encodeFrame(frameHeader({ channelId: 5, sequence: 2, from: 1 }), [], new Uint8Array(0));
    const after = encodeFrame(frameHeader({ channelId: 5, sequence: 3, from: 1 }), [], text('c'));
    assert.equal(bob.ingest(new Uint8Array([...good, ...bad, ...after]), T0)?.code, 'MESSAGE_EMPTY');
    assert.deepEqual(inbox.sequences, [1]);
  });

  test('frames from a direct peer are attributed to that peer', () => {
    const bob = new DataChannelEndpoint(2);
    bob.participantJoined(member(2, 'bob'), T0);
    bob.participantJoined(member(1, 'alice'), T0);
    const inbox = new Inbox(bob);
    assert.equal(bob.ingestFrom(1, encodeFrame(frameHeader({ channelId: 5, sequence: 1 }), [2], text('direct')), T0), undefined);
    assert.equal(inbox.messages.length, 1);
    assert.equal(inbox.messages[0]!.from, 'alice');
    // A peer may not speak for someone else.
    const forged = encodeFrame(frameHeader({ channelId: 5, sequence: 2, from: 3 }), [], text('forged'));
    assert.equal(bob.ingestFrom(1, forged, T0)?.code, 'INVALID_ARGUMENT');
    assert.equal(inbox.messages.length, 1);
  });

  test('path-control frames that reach the endpoint change nothing', () => {
    const bob = new DataChannelEndpoint(2);
    bob.participantJoined(member(1, 'alice'), T0);
    const inbox = new Inbox(bob);
    const sw = encodeFrame(frameHeader({ type: FrameType.Switch, channelId: 0, sequence: 1, from: 1 }));
    assert.equal(bob.ingest(sw, T0), undefined);
    assert.deepEqual(inbox.events, []);
  });

  test('fragmented durable and lossy messages are reassembled end to end', () => {
    const { call, alice, inbox } = aliceAndBob();
    const durable = alice.createSender({ channelId: 1 }, T0);
    const lossy = alice.createSender({ channelId: 2, reliability: 'Lossy' }, T0);
    const a = pattern(100_000, 1);
    const b = pattern(50_000, 2);
    alice.send(durable, a);
    alice.send(lossy, b);
    call.pump(T0);
    assert.deepEqual(inbox.messages.map((m) => m.channel).sort(), [1, 2]);
    assert.deepEqual(inbox.messages.find((m) => m.channel === 1)!.data, a);
    assert.deepEqual(inbox.messages.find((m) => m.channel === 2)!.data, b);
  });
});

describe('Router', () => {
  test('a frame claiming another sender is rejected', () => {
    const { call, alice, bob, inbox } = aliceAndBob();
    const forged = encodeFrame(frameHeader({ channelId: 5, sequence: 1, from: bob.self }), [], text('forged'));
    call.relay(alice, forged, T0);
    assert.equal(call.rejectedFrames, 1);
    assert.deepEqual(inbox.messages, []);
    new Inbox(alice);
    const honest = encodeFrame(frameHeader({ channelId: 5, sequence: 1, from: alice.self }), [], text('honest'));
    call.relay(alice, honest, T0);
    assert.equal(inbox.messages.length, 1);
  });
});

// Fragments: in order for durable, in any order (or missing) for lossy.
function fragment(sequence: number, size: number, offset: number, payload: Uint8Array, fields: Partial<FrameHeader> = {}): DecodedFrame {
  return {
    header: frameHeader({
      channelId: 1,
      sequence,
      reliability: 'Lossy',
      fragmented: true,
      messageSize: size,
      fragmentOffset: offset,
      from: 3,
      ...fields,
    }),
    to: [],
    payload,
  };
}

describe('Reassembler', () => {
  test('puts out-of-order lossy fragments back together', () => {
    const r = new Reassembler();
    const whole = pattern(30, 1);
    assert.equal(r.add(3, fragment(1, 30, 20, whole.subarray(20)), T0), undefined);
    assert.equal(r.add(3, fragment(1, 30, 0, whole.subarray(0, 10)), T0), undefined);
    assert.equal(r.pendingBytes, 30);
    assert.deepEqual(r.add(3, fragment(1, 30, 10, whole.subarray(10, 20)), T0), whole);
    assert.equal(r.pendingBytes, 0);
  });

  test('keeps messages of different senders and channels apart', () => {
    const r = new Reassembler();
    assert.equal(r.add(3, fragment(1, 20, 0, filled(10, 1)), T0), undefined);
    assert.equal(r.add(4, fragment(1, 20, 0, filled(10, 2)), T0), undefined);
    assert.equal(r.add(3, fragment(1, 20, 0, filled(10, 3), { channelId: 2 }), T0), undefined);
    assert.deepEqual(r.add(4, fragment(1, 20, 10, filled(10, 2)), T0), filled(20, 2));
    assert.deepEqual(r.add(3, fragment(1, 20, 10, filled(10, 1)), T0), filled(20, 1));
  });

  test('discards overlapping fragments', () => {
    const r = new Reassembler();
    assert.equal(r.add(3, fragment(1, 30, 0, filled(20, 1)), T0), undefined);
    assert.equal(r.add(3, fragment(1, 30, 10, filled(20, 9)), T0), undefined); // over [0, 20)
    assert.equal(r.add(3, fragment(1, 30, 25, filled(5, 3)), T0), undefined);
    assert.equal(r.add(3, fragment(1, 30, 24, filled(2, 9)), T0), undefined); // over [25, 30)
    assert.equal(r.add(3, fragment(1, 30, 19, filled(2, 9)), T0), undefined); // over [0, 20)
    assert.equal(r.add(3, fragment(1, 30, 0, filled(1, 9)), T0), undefined); // a duplicate start
    assert.equal(r.discarded, 4);
    const whole = r.add(3, fragment(1, 30, 20, filled(5, 2)), T0);
    assert.deepEqual(whole, new Uint8Array([...filled(20, 1), ...filled(5, 2), ...filled(5, 3)]));
  });

  test('discards a fragment that disagrees on the message size', () => {
    const r = new Reassembler();
    assert.equal(r.add(3, fragment(1, 30, 0, filled(10)), T0), undefined);
    assert.equal(r.add(3, fragment(1, 40, 10, filled(10)), T0), undefined);
    assert.equal(r.discarded, 1);
  });

  test('expires incomplete lossy messages after 10 s', () => {
    const r = new Reassembler();
    r.add(3, fragment(1, 30, 0, filled(10)), T0);
    assert.equal(r.pendingBytes, 30);
    assert.equal(r.nextExpiry(), T0 + 10_000);
    r.expire(T0 + 9_999);
    assert.equal(r.pendingBytes, 30);
    r.expire(T0 + 10_000);
    assert.equal(r.pendingBytes, 0);
    assert.equal(r.nextExpiry(), undefined);
  });

  test('a new durable message abandons the incomplete one before it', () => {
    const r = new Reassembler();
    r.add(3, fragment(1, 30, 0, filled(10), { reliability: 'Durable' }), T0);
    r.add(3, fragment(2, 30, 0, filled(10), { reliability: 'Durable' }), T0);
    assert.equal(r.pendingBytes, 30);
    assert.equal(r.nextExpiry(), undefined, 'durable partials do not expire');
  });

  test('bounds partial messages per channel and in total', () => {
    const r = new Reassembler({ maxPendingBytes: 100, maxPartialsPerChannel: 2 });
    for (let seq = 1; seq <= 5; seq++) assert.equal(r.add(3, fragment(seq, 40, 0, filled(10)), T0 + seq), undefined);
    assert.equal(r.pendingBytes, 80, 'only the two newest partials stay');
    assert.equal(r.add(3, fragment(9, 200, 0, filled(10)), T0), undefined);
    assert.ok(r.pendingBytes <= 100);
  });

  test('at most 4 partial messages per lossy channel by default, 64 MiB in all', () => {
    const r = new Reassembler();
    for (let seq = 1; seq <= 6; seq++) r.add(3, fragment(seq, 1000, 0, filled(10)), T0 + seq);
    assert.equal(r.pendingBytes, 4000);
    // The oldest partials were evicted: completing #1 is no longer possible, #6 is.
    assert.equal(r.add(3, fragment(1, 1000, 10, filled(990)), T0 + 10), undefined);
    const big = new Reassembler();
    const mib = 1024 * 1024;
    for (let ch = 1; ch <= 5; ch++) big.add(3, fragment(1, 16 * mib, 0, filled(10), { channelId: ch }), T0 + ch);
    assert.equal(big.pendingBytes, 64 * mib);
  });
});
