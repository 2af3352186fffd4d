// Reconnecting and resuming, the pure parts (docs/protocol.md, "Reconnecting and
// resuming"): the retry schedule, the server path's counts and resend log with its 8 MiB
// bound, what a lost transport message costs, the signaling fields, and the endpoint's
// rejoin as a new participant (src/client/call_transport.cpp, src/core/endpoint.cpp).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { DataChannelEndpoint } from '../../src/core/endpoint.js';
import { decodeFrames, encodeFrame, frameHeader, FrameType } from '../../src/core/frame.js';
import { durableMessagesIn, encodeResentFrame } from '../../src/core/pathSwitch.js';
import type { TrafficClass } from '../../src/core/trafficClass.js';
import {
  Backoff,
  FIRST_BACKOFF_MS,
  MAX_BACKOFF_MS,
  MAX_SERVER_UNACKED,
  ServerPathLog,
} from '../../src/client/reconnect.js';
import { parseSignal, serializeSignal } from '../../src/client/signaling.js';
import { filled, Inbox, text } from './support.js';

const DURABLE: TrafficClass = { reliability: 'Durable', priority: 'Normal' };
const DURABLE_HIGH: TrafficClass = { reliability: 'Durable', priority: 'High' };
const LOSSY: TrafficClass = { reliability: 'Lossy', priority: 'Normal' };

function data(sequence: number, payload: Uint8Array, fields = {}): Uint8Array {
  return encodeFrame(frameHeader({ channelId: 10000, sequence, ...fields }), [], payload);
}

describe('Backoff', () => {
  test('RetriesAfter250msDoublingTo2s', () => {
    const b = new Backoff(60_000);
    b.start(0);
    assert.deepEqual([0, 0, 0, 0, 0, 0].map(() => b.delay(100)), [250, 500, 1000, 2000, 2000, 2000]);
    assert.equal(FIRST_BACKOFF_MS, 250);
    assert.equal(MAX_BACKOFF_MS, 2000);
  });

  test('NeverWaitsPastTheEndOfTheWindowAndThenExpires', () => {
    const b = new Backoff(3000);
    b.start(1000);
    assert.equal(b.delay(1000), 250);
    assert.equal(b.delay(3500), 500);
    assert.equal(b.delay(3800), 200, 'only what is left of the window');
    assert.equal(b.delay(4100), 0);
    assert.equal(b.expired(3999), false);
    assert.equal(b.expired(4000), true);
  });

  test('ALaterLossStartsTheScheduleOver', () => {
    const b = new Backoff(60_000);
    b.start(0);
    b.delay(0);
    b.delay(0);
    b.delay(0);
    b.start(10_000);
    assert.equal(b.delay(10_000), 250);
    assert.equal(b.expired(69_999), false);
  });
});

describe('ServerPathLog', () => {
  test('WithoutAResumeTokenNothingIsKeptOrCounted', () => {
    const log = new ServerPathLog();
    assert.equal(log.resumable, false);
    log.sent(DURABLE, filled(MAX_SERVER_UNACKED));
    assert.equal(log.unackedBytes, 0);
    assert.equal(log.hasRoom(DURABLE), true);
    assert.equal(log.tookIn(0), false);
    assert.deepEqual(log.received, [0, 0]);
    assert.equal(log.resumeRequest, undefined);
  });

  test('CountsDurableTransportMessagesPerClassForAckAndResume', () => {
    const log = new ServerPathLog();
    log.setToken('t0ken');
    assert.equal(log.tookIn(0), true);
    assert.equal(log.tookIn(0), true);
    assert.equal(log.tookIn(1), true);
    assert.equal(log.tookIn(2), false, 'lossy streams are not counted');
    assert.equal(log.tookIn(3), false);
    assert.deepEqual(log.received, [2, 1]);
    assert.deepEqual(log.resumeRequest, { token: 't0ken', received: [2, 1] });
    // A copy: counting on changes neither what was read nor a request already made.
    const request = log.resumeRequest!;
    log.tookIn(0);
    assert.deepEqual(request.received, [2, 1]);
    assert.deepEqual(log.received, [3, 1]);
  });

  test('KeepsDurableMessagesUntilAcknowledgedBoundedAt8MiB', () => {
    const log = new ServerPathLog();
    log.setToken('t');
    const MiB = 1024 * 1024;
    for (let i = 0; i < 8; i++) {
      assert.equal(log.hasRoom(DURABLE), true, `room for message ${i}`);
      log.sent(i % 2 ? DURABLE_HIGH : DURABLE, filled(MiB, i));
    }
    assert.equal(log.unackedBytes, 8 * MiB);
    assert.equal(MAX_SERVER_UNACKED, 8 * MiB);
    assert.equal(log.hasRoom(DURABLE), false, 'past the bound the transport takes no durable message');
    assert.equal(log.hasRoom(DURABLE_HIGH), false);
    assert.equal(log.hasRoom(LOSSY), true, 'lossy messages are never kept');
    log.sent(LOSSY, filled(MiB));
    assert.equal(log.unackedBytes, 8 * MiB);
    // The server's ack frees what it took in, per class.
    assert.equal(log.acknowledged([1, 0]), undefined);
    assert.equal(log.unackedBytes, 7 * MiB);
    assert.equal(log.hasRoom(DURABLE), true);
    assert.equal(log.acknowledged([4, 4]), undefined);
    assert.equal(log.unackedBytes, 0);
    assert.equal(log.acknowledged([3, 3])?.code, undefined, 'an older ack changes nothing');
    assert.equal(log.acknowledged([5, 4])?.code, 'INVALID_ARGUMENT', 'more than was sent');
  });

  test('AResumeSendsAgainExactlyWhatTheServerDidNotTakeInInOrder', () => {
    const log = new ServerPathLog();
    log.setToken('t');
    const sent = [1, 2, 3, 4, 5].map((n) => data(n, text(`m${n}`)));
    for (const m of sent) log.sent(DURABLE, m);
    const high = data(9, text('urgent'), { priority: 'High' });
    log.sent(DURABLE_HIGH, high);
    log.acknowledged([1, 0]);
    const { replay, error } = log.resumed([3, 0]);
    assert.equal(error, undefined);
    assert.deepEqual(
      replay.map((r) => [r.cls.priority, [...r.bytes]]),
      [
        ['Normal', [...sent[3]!]],
        ['Normal', [...sent[4]!]],
        ['High', [...high]],
      ],
    );
    // The copies stay until acknowledged: a second resume (the first one's connection died
    // too) sends them again.
    assert.equal(log.resumed([4, 0]).replay.length, 2);
    assert.equal(log.resumed([9, 0]).error?.code, 'INVALID_ARGUMENT');
  });

  test('ANewSessionReportsTheUnconfirmedDataMessagesAndCountsFromZero', () => {
    const log = new ServerPathLog();
    log.setToken('t');
    // Two whole messages in one transport message, then a message in two fragments: only its
    // last fragment completes it.
    const batch = new Uint8Array([...data(1, text('a')), ...data(2, text('b'))]);
    log.sent(DURABLE, batch);
    log.sent(DURABLE, data(3, filled(10), { fragmented: true, messageSize: 20, fragmentOffset: 0 }));
    log.sent(DURABLE, data(3, filled(10), { fragmented: true, messageSize: 20, fragmentOffset: 10 }));
    log.tookIn(0);
    assert.equal(log.restart(), 3);
    assert.equal(log.unackedBytes, 0);
    assert.deepEqual(log.received, [0, 0]);
    log.setToken(undefined);
    assert.equal(log.resumable, false);
  });
});

describe('durableMessagesIn', () => {
  test('CountsDurableDataMessagesCompletedIncludingThoseInsideResent', () => {
    const lossy = data(1, text('x'), { reliability: 'Lossy' });
    const close = encodeFrame(frameHeader({ type: FrameType.Close, channelId: 10000, sequence: 2 }), [], new Uint8Array(0));
    const inner = new Uint8Array([...data(5, text('p')), ...data(6, text('q'))]);
    const resent = encodeResentFrame(1, 'Normal', 7, 0, inner);
    const first = data(3, filled(5), { fragmented: true, messageSize: 10, fragmentOffset: 0 });
    const all = new Uint8Array([...lossy, ...close, ...resent, ...first, ...data(4, text('y'))]);
    assert.equal(decodeFrames(all).error, undefined);
    assert.equal(durableMessagesIn(all), 3);
    assert.equal(durableMessagesIn(new Uint8Array([1, 2, 3])), 0, 'garbage counts nothing');
  });
});

describe('resume signaling', () => {
  test('JoinCarriesResumableAndResume', () => {
    const join = parseSignal(
      '{"type":"join","req":"j","token":"t","call":"c","p2p":false,"resumable":true,"resume":{"token":"r","received":[1042,3]}}',
    );
    assert.deepEqual(join, {
      type: 'join',
      req: 'j',
      token: 't',
      call: 'c',
      p2p: false,
      resumable: true,
      resume: { token: 'r', received: [1042, 3] },
    });
    assert.equal(
      serializeSignal(join),
      '{"type":"join","req":"j","token":"t","p2p":false,"call":"c","resumable":true,"resume":{"token":"r","received":[1042,3]}}',
    );
    assert.throws(() => parseSignal('{"type":"join","token":"t","resume":{"token":"r","received":[1]}}'), /received/);
    assert.throws(() => parseSignal('{"type":"join","token":"t","resume":{"received":[1,2]}}'), /token/);
  });

  test('JoinedSaysResumedAndReceived', () => {
    const base = '"type":"joined","participantId":3,"identity":"a","displayName":"A","call":"c","participants":[],"iceServers":[],"maxMessageSize":1000';
    const joined = parseSignal(`{${base},"resumeToken":"tok","resumeGraceMs":30000,"resumed":true,"received":[977,3]}`, 1 << 20);
    assert.equal(joined.type, 'joined');
    if (joined.type !== 'joined') return;
    assert.equal(joined.resumeToken, 'tok');
    assert.equal(joined.resumeGraceMs, 30000);
    assert.equal(joined.resumed, true);
    assert.deepEqual(joined.received, [977, 3]);
    assert.throws(() => parseSignal(`{${base},"resumed":true}`, 1 << 20), /received/);
    const fresh = parseSignal(`{${base},"resumeToken":"tok"}`, 1 << 20);
    assert.equal(fresh.type === 'joined' && fresh.resumed, undefined);
  });

  test('AckBothWays', () => {
    assert.deepEqual(parseSignal('{"type":"ack","received":[5,0]}'), { type: 'ack', received: [5, 0] });
    assert.equal(serializeSignal({ type: 'ack', received: [5, 0] }), '{"type":"ack","received":[5,0]}');
    assert.throws(() => parseSignal('{"type":"ack","received":[5,-1]}'), /received/);
    assert.throws(() => parseSignal('{"type":"ack","received":[5,4294967296]}'), /received/);
    assert.throws(() => parseSignal('{"type":"ack"}'), /received/);
  });
});

describe('DataChannelEndpoint.rejoin', () => {
  test('ReceiversCloseSendersKeepNumberingAndQueuedMessagesAreReaddressedByIdentity', () => {
    const T0 = 0;
    const alice = new DataChannelEndpoint(1);
    const inbox = new Inbox(alice);
    alice.participantJoined({ id: 1, identity: 'alice', displayName: 'A' }, T0);
    alice.participantJoined({ id: 2, identity: 'bob', displayName: 'B' }, T0);
    alice.participantJoined({ id: 3, identity: 'carol', displayName: 'C' }, T0);
    // bob's receiver on alice's side.
    alice.ingest(encodeFrame(frameHeader({ channelId: 7, sequence: 1, from: 2 }), [], text('hi')), T0);
    const toBob = alice.createSender({ channelId: 10000, reliability: 'Durable', participants: ['bob'] }, T0);
    const toCarol = alice.createSender({ channelId: 10001, reliability: 'Durable', participants: ['carol'] }, T0);
    const toAll = alice.createSender({ channelId: 10002, reliability: 'Durable' }, T0);
    assert.equal(alice.send(toBob, text('b1')), 1);
    alice.send(toBob, text('b2'));
    alice.send(toCarol, text('c1'));
    alice.send(toAll, text('all'));
    // The server restarted: alice is #11 now, bob #12, carol is not back.
    const dropped = alice.rejoin(11, [
      { id: 11, identity: 'alice', displayName: 'A' },
      { id: 12, identity: 'bob', displayName: 'B' },
    ]);
    assert.equal(dropped, 1, "the message for carol, who is not in the call, is dropped");
    assert.equal(alice.self, 11);
    assert.ok(inbox.events.includes('closed 7 bob participant_left'));
    assert.deepEqual(alice.roster.participants().map((p) => [p.id, p.identity]), [[11, 'alice'], [12, 'bob']]);
    assert.equal(toCarol.bufferedAmount, 0);
    const frames = [];
    for (let m = alice.poll(T0, 65536); m; m = alice.poll(T0, 65536)) frames.push(...decodeFrames(m.bytes).frames);
    const sent = frames
      .filter((f) => f.header.type === FrameType.Data)
      .map((f) => [f.header.channelId, f.header.sequence, f.to, new TextDecoder().decode(f.payload)]);
    assert.deepEqual(sent, [
      [10000, 1, [12], 'b1'],
      [10000, 2, [12], 'b2'],
      [10002, 1, [], 'all'],
    ]);
    // Numbering goes on; new messages go to the new ids.
    assert.equal(alice.send(toBob, text('b3')), 3);
    const next = decodeFrames(alice.poll(T0, 65536)!.bytes).frames[0]!;
    assert.deepEqual([next.header.sequence, next.to], [3, [12]]);
    // bob's frames under his new id open a new receiver.
    alice.ingest(encodeFrame(frameHeader({ channelId: 7, sequence: 2, from: 12 }), [], text('again')), T0);
    assert.equal(inbox.events.filter((e) => e.startsWith('created 7 bob')).length, 2);
  });

  test('AMessagePartlyHandedToTheOldConnectionIsDroppedAndCounted', () => {
    const T0 = 0;
    const alice = new DataChannelEndpoint(1, { fragmentSize: 1024 });
    alice.participantJoined({ id: 1, identity: 'alice', displayName: 'A' }, T0);
    alice.participantJoined({ id: 2, identity: 'bob', displayName: 'B' }, T0);
    const s = alice.createSender({ channelId: 10000, reliability: 'Durable' }, T0);
    alice.send(s, filled(4096));
    alice.send(s, text('whole'));
    assert.ok(alice.poll(T0, 1500), 'a first fragment went to the old connection');
    const dropped = alice.rejoin(5, [
      { id: 5, identity: 'alice', displayName: 'A' },
      { id: 6, identity: 'bob', displayName: 'B' },
    ]);
    assert.equal(dropped, 1);
    const frames = decodeFrames(alice.poll(T0, 65536)!.bytes).frames;
    assert.deepEqual(frames.map((f) => f.header.sequence), [2]);
  });
});
