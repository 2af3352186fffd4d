// Senders: options, sequence numbers, recipients, sizes, queue bounds and pacing
// (tests/core/sender_test.cpp).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { DataChannelEndpoint, validateEndpointConfig, DEFAULT_ENDPOINT_CONFIG } from '../../src/core/endpoint.js';
import { LocalCall } from '../../src/core/localCall.js';
import { parsePriority, parseReliability, validateSenderOptions, type SenderOptions } from '../../src/core/options.js';
import type { SenderChannel } from '../../src/core/senderChannel.js';
import { filled, Inbox, pattern, T0, text, throwsCode } from './support.js';

// alice, bob and carol in one call; bob's and carol's receivers report to inboxes.
function threeParticipants() {
  const call = new LocalCall();
  const alice = call.join('alice', T0);
  const bob = call.join('bob', T0);
  const carol = call.join('carol', T0);
  const bobInbox = new Inbox(bob);
  const carolInbox = new Inbox(carol);
  const sender = (options: SenderOptions = {}): SenderChannel => alice.createSender(options, T0);
  return { call, alice, bob, carol, bobInbox, carolInbox, sender };
}

describe('Sender', () => {
  test('defaults are durable, normal, unpaced, to everyone', () => {
    const resolved = validateSenderOptions();
    assert.deepEqual(resolved, { channelId: 0, reliability: 'Durable', priority: 'Normal', bitrateInKbps: 0, participants: [] });
    const { sender } = threeParticipants();
    const s = sender();
    assert.equal(s.reliability, 'Durable');
    assert.equal(s.priority, 'Normal');
    assert.equal(s.maxMessageSize, 256 * 1024);
    assert.ok(s.channelId >= 1024);
  });

  test('sequence numbers start at 1 and count every accepted message', () => {
    const { alice, sender } = threeParticipants();
    const s = sender();
    assert.equal(alice.send(s, text('a')), 1);
    assert.equal(alice.send(s, text('b')), 2);
    throwsCode(() => alice.send(s, new Uint8Array(0)), 'MESSAGE_EMPTY'); // refused: uses no number
    assert.equal(alice.send(s, text('c')), 3);
  });

  test('sequence numbers are counted per sender', () => {
    const { alice, sender } = threeParticipants();
    const one = sender();
    const two = sender();
    assert.equal(alice.send(one, text('a')), 1);
    assert.equal(alice.send(one, text('a')), 2);
    assert.equal(alice.send(two, text('a')), 1);
  });

  test('the sequence number wraps from 2^32-1 to 0', () => {
    const { call, alice, bobInbox, sender } = threeParticipants();
    const s = sender();
    s.restoreSequence(4294967295);
    assert.equal(alice.send(s, text('a')), 4294967295);
    assert.equal(alice.send(s, text('b')), 0);
    assert.equal(alice.send(s, text('c')), 1);
    call.pump(T0);
    assert.deepEqual(bobInbox.sequences, [4294967295, 0, 1]);
  });

  test('the close notice after a wrap carries the last number used', () => {
    const { call, alice, bobInbox, sender } = threeParticipants();
    const s = sender({ channelId: 77 });
    s.restoreSequence(4294967295);
    alice.send(s, text('a'));
    assert.equal(s.nextSequence, 0);
    alice.close(s);
    call.pump(T0);
    assert.equal(bobInbox.events.at(-1), 'closed 77 alice sender_closed');
  });

  // The concept document's example: recipients {B,C}, then {C}, then {B}.
  test('recipient changes leave gaps in sequence numbers', () => {
    const { call, alice, bobInbox, carolInbox, sender } = threeParticipants();
    const s = sender({ participants: ['bob', 'carol'] });
    alice.send(s, text('1'));
    alice.setParticipants(s, ['carol']);
    alice.send(s, text('2'));
    alice.setParticipants(s, ['bob']);
    alice.send(s, text('3'));
    call.pump(T0);
    assert.deepEqual(bobInbox.sequences, [1, 3]);
    assert.deepEqual(carolInbox.sequences, [1, 2]);
  });

  test('an empty recipient list reaches everyone, including later joiners', () => {
    const { call, alice, bobInbox, sender } = threeParticipants();
    const s = sender();
    alice.send(s, text('before'));
    call.pump(T0);
    const daveInbox = new Inbox(call.join('dave', T0));
    alice.send(s, text('after'));
    call.pump(T0);
    assert.deepEqual(bobInbox.sequences, [1, 2]);
    assert.deepEqual(daveInbox.sequences, [2]);
  });

  test('more than 64 recipients fails with TOO_MANY_PARTICIPANTS', () => {
    const { call, alice, bobInbox, carolInbox, sender } = threeParticipants();
    const many = Array.from({ length: 65 }, (_, i) => `user${i}`);
    throwsCode(() => alice.createSender({ participants: many }, T0), 'TOO_MANY_PARTICIPANTS');
    const s = sender();
    throwsCode(() => alice.setParticipants(s, many), 'TOO_MANY_PARTICIPANTS');
    const sixtyFour = [...many.slice(0, 63), 'bob'];
    alice.setParticipants(s, sixtyFour); // 64 is fine; strangers skipped
    alice.send(s, text('x'));
    call.pump(T0);
    assert.equal(bobInbox.messages.length, 1);
    assert.equal(carolInbox.messages.length, 0);
  });

  test('no listed participant in the call fails with NO_VALID_PARTICIPANT', () => {
    const { alice, sender } = threeParticipants();
    const s = sender({ participants: ['mallory', 'alice'] });
    throwsCode(() => alice.send(s, text('x')), 'NO_VALID_PARTICIPANT');
    // The same list becomes valid once someone on it is in the call.
    alice.setParticipants(s, ['mallory', 'carol']);
    assert.equal(alice.send(s, text('x')), 1);
  });

  test('a recipient who left is skipped', () => {
    const { call, alice, bob, carol, bobInbox, sender } = threeParticipants();
    const s = sender({ participants: ['bob', 'carol'] });
    call.leave(carol);
    alice.send(s, text('x'));
    call.pump(T0);
    assert.equal(bobInbox.messages.length, 1);
    call.leave(bob);
    throwsCode(() => alice.send(s, text('y')), 'NO_VALID_PARTICIPANT');
  });

  test('a sender never receives its own messages', () => {
    const { call, alice, bobInbox, sender } = threeParticipants();
    const aliceInbox = new Inbox(alice);
    alice.send(sender(), text('x'));
    alice.send(sender({ participants: ['alice', 'bob'] }), text('y'));
    call.pump(T0);
    assert.equal(aliceInbox.messages.length, 0);
    assert.equal(bobInbox.messages.length, 2);
  });

  test('bad options fail with INVALID_ARGUMENT', () => {
    const { alice } = threeParticipants();
    const bad: unknown[] = [
      { reliability: 'Reliable' },
      { reliability: 7 },
      { priority: 'Urgent' },
      { bitrateInKbps: 10_000_001 },
      { bitrateInKbps: -1 },
      { bitrateInKbps: 1.5 },
      { participants: 'bob' },
      { participants: [1, 2] },
    ];
    for (const options of bad) {
      throwsCode(() => alice.createSender(options as SenderOptions, T0), 'INVALID_ARGUMENT');
    }
    assert.equal(alice.createSender({ bitrateInKbps: 10_000_000 }, T0).bitrateInKbps, 10_000_000);
  });

  test('reliability and priority names parse case-insensitively', () => {
    assert.equal(parseReliability('Durable'), 'Durable');
    assert.equal(parseReliability('LOSSY'), 'Lossy');
    assert.equal(parsePriority('high'), 'High');
    assert.equal(parseReliability('reliable'), undefined);
    assert.equal(parsePriority(''), undefined);
    const { sender } = threeParticipants();
    const s = sender({ reliability: 'lossy' as 'Lossy', priority: 'HIGH' as 'High' });
    assert.equal(s.reliability, 'Lossy');
    assert.equal(s.priority, 'High');
  });

  test('an empty message fails with MESSAGE_EMPTY', () => {
    const { alice, sender } = threeParticipants();
    throwsCode(() => alice.send(sender(), new Uint8Array(0)), 'MESSAGE_EMPTY');
  });

  test('a message that is not a Uint8Array fails with INVALID_ARGUMENT', () => {
    const { alice, sender } = threeParticipants();
    throwsCode(() => alice.send(sender(), 'text' as unknown as Uint8Array), 'INVALID_ARGUMENT');
  });

  test('a message over the max size fails with MESSAGE_TOO_LARGE', () => {
    const { alice, sender } = threeParticipants();
    const s = sender();
    assert.equal(alice.send(s, filled(256 * 1024)), 1);
    throwsCode(() => alice.send(s, filled(256 * 1024 + 1)), 'MESSAGE_TOO_LARGE');
  });

  test('the message is copied: changing the buffer after sending changes nothing', () => {
    const { call, alice, bobInbox, sender } = threeParticipants();
    const buffer = text('original');
    alice.send(sender(), buffer);
    buffer.fill(0x21);
    call.pump(T0);
    assert.equal(new TextDecoder().decode(bobInbox.messages[0]!.data), 'original');
  });

  test('send after close fails with SENDER_CLOSED', () => {
    const { alice, sender } = threeParticipants();
    const s = sender();
    alice.close(s);
    throwsCode(() => alice.send(s, text('x')), 'SENDER_CLOSED');
    throwsCode(() => alice.setParticipants(s, []), 'SENDER_CLOSED');
  });

  test('the close notice reaches every recipient after the queued messages', () => {
    const { call, alice, bobInbox, carolInbox, sender } = threeParticipants();
    const s = sender({ reliability: 'Lossy', participants: ['bob'] });
    alice.send(s, text('1'));
    alice.setParticipants(s, ['carol']);
    alice.send(s, text('2'));
    alice.close(s);
    call.pump(T0);
    const ch = s.channelId;
    assert.equal(bobInbox.events.at(-1), `closed ${ch} alice sender_closed`);
    assert.deepEqual(carolInbox.events, [`created ${ch} alice readable=0`, `message ${ch} alice 2`, `closed ${ch} alice sender_closed`]);
  });

  test('durable messages arrive in order and intact', () => {
    const { call, alice, bobInbox, sender } = threeParticipants();
    const s = sender();
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      sent.push(pattern(1 + ((i * 7919) % (100 * 1024)), i));
      alice.send(s, sent.at(-1)!);
      if (i % 13 === 0) call.pump(T0);
    }
    call.pump(T0);
    assert.equal(bobInbox.messages.length, sent.length);
    bobInbox.messages.forEach((m, i) => {
      assert.equal(m.sequence, i + 1);
      assert.deepEqual(m.data, sent[i]);
    });
  });

  test('durable over the buffer bound fails with BUFFER_FULL, and bufferedAmount drains', () => {
    const { call, alice, bobInbox, sender } = threeParticipants();
    const s = sender();
    const chunk = filled(256 * 1024, 7);
    let accepted = 0;
    while (s.hasRoomFor(chunk.length)) {
      alice.send(s, chunk);
      accepted++;
    }
    throwsCode(() => alice.send(s, chunk), 'BUFFER_FULL');
    assert.equal(accepted, 16); // 4 MiB / 256 KiB
    assert.equal(s.bufferedAmount, 4 * 1024 * 1024);
    assert.equal(s.nextSequence, 17, 'a refused message uses no number');
    call.pump(T0);
    assert.equal(s.bufferedAmount, 0);
    assert.equal(bobInbox.messages.length, 16);
    assert.equal(alice.send(s, chunk), 17); // room again; nothing was lost
  });

  test('lossy over the buffer bound drops and counts without an error', () => {
    const { call, alice, bobInbox, sender } = threeParticipants();
    const s = sender({ reliability: 'Lossy' });
    const chunk = filled(256 * 1024, 7);
    for (let i = 0; i < 20; i++) assert.equal(alice.send(s, chunk), i + 1);
    assert.equal(s.droppedMessages, 4);
    assert.equal(alice.stats.lossyDroppedOnSend, 4);
    call.pump(T0);
    assert.equal(bobInbox.messages.length, 16);
    assert.equal(bobInbox.messages.at(-1)!.sequence, 16);
  });
});

describe('SenderLimits', () => {
  test('maxMessageSize is configurable up to 16 MiB', () => {
    validateEndpointConfig({ ...DEFAULT_ENDPOINT_CONFIG, maxMessageSize: 16 * 1024 * 1024 });
    throwsCode(() => validateEndpointConfig({ ...DEFAULT_ENDPOINT_CONFIG, maxMessageSize: 16 * 1024 * 1024 + 1 }), 'INVALID_ARGUMENT');
    throwsCode(() => new DataChannelEndpoint(1, { maxMessageSize: 0 }), 'INVALID_ARGUMENT');
    throwsCode(() => new DataChannelEndpoint(1, { fragmentSize: 512 }), 'INVALID_ARGUMENT');
    throwsCode(() => new DataChannelEndpoint(1, { receiveBufferLimit: 0 }), 'INVALID_ARGUMENT');
    throwsCode(() => new DataChannelEndpoint(1, { receiverIdleTimeoutMs: 0 }), 'INVALID_ARGUMENT');

    const call = new LocalCall({ maxMessageSize: 16 * 1024 * 1024 });
    const alice = call.join('alice', T0);
    const inbox = new Inbox(call.join('bob', T0));
    const s = alice.createSender({}, T0);
    assert.equal(s.maxMessageSize, 16 * 1024 * 1024);
    const whole = pattern(16 * 1024 * 1024, 5);
    alice.send(s, whole);
    call.pump(T0);
    assert.equal(inbox.messages.length, 1);
    assert.deepEqual(inbox.messages[0]!.data, whole);
  });
});

describe('Pacing', () => {
  // Measured on a simulated clock: the token bucket holds the average rate.
  for (const kbps of [32, 512, 8000, 100000]) {
    test(`the average rate stays within 10% of ${kbps} kbps`, () => {
      const bytesPerSecond = (kbps * 1000) / 8;
      let t = T0;
      const call = new LocalCall();
      const alice = call.join('alice', t);
      const bob = call.join('bob', t);
      let received = 0;
      bob.setEvents({
        messageReady: (r) => {
          for (let m = r.read(); m; m = r.read()) received += m.data.length;
        },
      });
      const s = alice.createSender({ bitrateInKbps: kbps }, t);
      const runMs = 20_000;
      const message = filled(Math.max(64, Math.floor(bytesPerSecond / 50)));
      for (const end = t + runMs; t < end; t += 5) {
        while (s.bufferedAmount < 4 * message.length) alice.send(s, message);
        call.pump(t);
      }
      const rate = received / (runMs / 1000);
      assert.ok(Math.abs(rate - bytesPerSecond) <= bytesPerSecond * 0.1, `${rate} B/s for ${bytesPerSecond} B/s`);
    });
  }

  test('a bitrate of 0 means no pacing', () => {
    const call = new LocalCall();
    const alice = call.join('alice', T0);
    const inbox = new Inbox(call.join('bob', T0));
    const s = alice.createSender({}, T0);
    for (let i = 0; i < 100; i++) alice.send(s, filled(16 * 1024));
    call.pump(T0); // no time passes
    assert.equal(inbox.messages.length, 100);
  });
});
