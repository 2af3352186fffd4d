// The signaling JSON codec (docs/protocol.md, "Signaling protocol, version 1"): the same
// acceptance rules as src/signaling/messages.cpp (tests/signaling/messages_test.cpp).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SwitchboardError } from '../../src/core/errors.js';
import { withSignalingHost } from '../../src/client/answerCandidates.js';
import { Emitter } from '../../src/client/emitter.js';
import {
  MAX_SERVER_MESSAGE_SIZE,
  MAX_SIGNALING_MESSAGE_SIZE,
  parseSignal,
  serializeSignal,
  type SignalMessage,
} from '../../src/client/signaling.js';

// Throws INVALID_ARGUMENT whose message names `field`.
function rejects(text: string, field: string, maxSize?: number): void {
  assert.throws(
    () => parseSignal(text, maxSize),
    (e: unknown) => e instanceof SwitchboardError && e.code === 'INVALID_ARGUMENT' && e.message.includes(field),
    `${text.slice(0, 80)} should be refused naming ${field}`,
  );
}

const JOINED = {
  type: 'joined',
  req: 'r1',
  participantId: 3,
  identity: 'alice',
  displayName: 'Alice',
  call: 'call-1',
  participants: [{ participantId: 1, identity: 'bob', displayName: 'Bob' }],
  iceServers: [
    { urls: ['stun:stun.example.org:3478'] },
    { urls: ['turn:turn.example.org:3478?transport=udp'], username: 'u', credential: 'p' },
  ],
  maxMessageSize: 262144,
};

test('Signaling: the examples of docs/protocol.md parse and serialize back to the same JSON', () => {
  const examples = [
    '{"type":"join","req":"r1","token":"eyJ.x.y","call":"call-1","displayName":"Alice","p2p":false}',
    '{"type":"offer","sdp":"v=0\\r\\n","peer":2,"session":1}',
    '{"type":"answer","sdp":"v=0\\r\\n"}',
    '{"type":"candidate","candidate":"candidate:1 1 udp 2130706431 192.0.2.1 3478 typ host","peer":2,"session":1}',
    '{"type":"leave"}',
    '{"type":"ping","req":"p7"}',
    '{"type":"pong","req":"p7"}',
    JSON.stringify(JOINED),
    '{"type":"participant_joined","participantId":4,"identity":"dave","displayName":"Dave"}',
    '{"type":"participant_left","participantId":4,"identity":"dave"}',
    '{"type":"p2p","peer":7,"session":3,"offer":true}',
    '{"type":"p2p_failed","peer":7,"session":3}',
    '{"type":"error","req":"r1","code":"UNAUTHORIZED","message":"expired"}',
    '{"type":"error","req":"j","code":"SERVER_FULL","message":"this server hosts its maximum of calls"}',
    '{"type":"error","code":"TRAFFIC_LIMITED","message":"over 50 messages/s; frames dropped","channelId":10000}',
    '{"type":"disconnect","reason":"slow consumer"}',
    '{"type":"redirect","url":"wss://eu.example.org/v1/signal"}',
  ];
  for (const text of examples) {
    const message = parseSignal(text);
    assert.deepEqual(JSON.parse(serializeSignal(message)), JSON.parse(text), text);
  }
});

test('Signaling: joined carries the roster, the ICE servers in RTCIceServer shape and the rate limits', () => {
  const joined = parseSignal(
    JSON.stringify({ ...JOINED, rateLimitBytesPerSecond: 1000, rateLimitMessagesPerSecond: 50 }),
  ) as Extract<SignalMessage, { type: 'joined' }>;
  assert.equal(joined.participantId, 3);
  assert.deepEqual(joined.participants, [{ participantId: 1, identity: 'bob', displayName: 'Bob' }]);
  assert.deepEqual(joined.iceServers[1], {
    urls: ['turn:turn.example.org:3478?transport=udp'],
    username: 'u',
    credential: 'p',
  });
  assert.equal(joined.rateLimitBytesPerSecond, 1000);
  assert.equal(joined.rateLimitMessagesPerSecond, 50);
});

test('Signaling: p2p without offer means offer false; fields not in the protocol are ignored', () => {
  assert.deepEqual(parseSignal('{"type":"p2p","peer":7,"session":3,"later":[1,2]}'), {
    type: 'p2p',
    peer: 7,
    session: 3,
    offer: false,
  });
});

test('Signaling: p2p_failed carries a nonzero peer and a session, both required 32-bit integers', () => {
  assert.equal(
    serializeSignal({ type: 'p2p_failed', peer: 7, session: 3 }),
    '{"type":"p2p_failed","peer":7,"session":3}',
  );
  assert.deepEqual(parseSignal('{"type":"p2p_failed","peer":7,"session":0}'), {
    type: 'p2p_failed',
    peer: 7,
    session: 0,
  });
  assert.equal(
    (parseSignal('{"type":"p2p_failed","peer":4294967295,"session":4294967295}') as { peer: number }).peer,
    4294967295,
  );
  rejects('{"type":"p2p_failed","session":3}', '"peer" is missing');
  rejects('{"type":"p2p_failed","peer":7}', '"session" is missing');
  rejects('{"type":"p2p_failed","peer":0,"session":3}', '"peer" must be a participant id');
  rejects('{"type":"p2p_failed","peer":"7","session":3}', '"peer"');
  rejects('{"type":"p2p_failed","peer":7,"session":-1}', '"session"');
  rejects('{"type":"p2p_failed","peer":7,"session":4294967296}', '"session"');
  rejects('{"type":"p2p_failed","peer":7,"session":1.5}', '"session"');
});

test('Signaling: text that is not a JSON object with a known type is refused', () => {
  rejects('not json', 'not valid JSON');
  rejects('[1,2]', 'not a JSON object');
  rejects('{"req":"r"}', '"type" is missing');
  rejects('{"type":7}', '"type"');
  rejects('{"type":"hello"}', '"type" is not a known message type');
  rejects('{"type":"ping","req":"' + 'x'.repeat(129) + '"}', '"req"');
});

test('Signaling: missing fields, wrong JSON types and out-of-range integers name the field', () => {
  rejects('{"type":"offer"}', '"sdp" is missing');
  rejects('{"type":"offer","sdp":5}', '"sdp"');
  rejects('{"type":"offer","sdp":"v=0","peer":-1}', '"peer"');
  rejects('{"type":"offer","sdp":"v=0","peer":4294967296}', '"peer"');
  rejects('{"type":"candidate","candidate":"c","session":1.5}', '"session"');
  rejects('{"type":"p2p","peer":0,"session":1}', '"peer" must be a participant id');
  rejects('{"type":"p2p","peer":2,"session":1,"offer":"yes"}', '"offer"');
  rejects('{"type":"join","token":""}', '"token"');
  rejects('{"type":"join","token":"t","call":""}', '"call"');
  rejects('{"type":"error","code":"NOPE","message":"m"}', '"code" is not an error code');
  rejects('{"type":"participant_left","participantId":4}', '"identity" is missing');
  rejects(JSON.stringify({ ...JOINED, participants: [{ participantId: 1, identity: '', displayName: '' }] }), '"identity"');
  rejects(JSON.stringify({ ...JOINED, iceServers: [{ urls: [] }] }), '"urls"');
  rejects(JSON.stringify({ ...JOINED, iceServers: [{}] }), '"urls" is missing');
  rejects(JSON.stringify({ ...JOINED, maxMessageSize: undefined }), '"maxMessageSize" is missing');
});

test('Signaling: string bounds count UTF-8 bytes, not characters', () => {
  // 128 bytes of identity are fine; 43 three-byte characters (129 bytes) are not.
  const left = (identity: string) => `{"type":"participant_left","participantId":1,"identity":"${identity}"}`;
  assert.equal((parseSignal(left('a'.repeat(128))) as { identity: string }).identity.length, 128);
  rejects(left('€'.repeat(43)), '"identity"');
  assert.doesNotThrow(() => parseSignal(left('€'.repeat(42))));
});

test('Signaling: a message over its size bound is refused; the server may send up to 2 MiB', () => {
  const big = JSON.stringify({ type: 'disconnect', reason: '', pad: 'x'.repeat(MAX_SIGNALING_MESSAGE_SIZE) });
  rejects(big, 'longer than 65536 bytes');
  assert.equal(parseSignal(big, MAX_SERVER_MESSAGE_SIZE).type, 'disconnect');
  const roster = Array.from({ length: 10_000 }, (_, i) => ({
    participantId: i + 10,
    identity: `user-${i}`,
    displayName: `User ${i}`,
  }));
  const joined = parseSignal(JSON.stringify({ ...JOINED, participants: roster }), MAX_SERVER_MESSAGE_SIZE);
  assert.equal((joined as { participants: unknown[] }).participants.length, 10_000);
  rejects(
    JSON.stringify({ ...JOINED, participants: [...roster, { participantId: 1, identity: 'x', displayName: '' }] }),
    '"participants"',
    MAX_SERVER_MESSAGE_SIZE,
  );
});

test('Signaling: serialize writes type and req first and leaves out absent optional fields', () => {
  assert.equal(
    serializeSignal({ type: 'join', token: 't', call: 'c', p2p: true, req: 'j' }),
    '{"type":"join","req":"j","token":"t","call":"c","p2p":true}',
  );
  assert.equal(serializeSignal({ type: 'candidate', candidate: '', peer: 2, session: 1 }), '{"type":"candidate","candidate":"","peer":2,"session":1}');
  assert.equal(serializeSignal({ type: 'offer', sdp: 'v=0', peer: undefined }), '{"type":"offer","sdp":"v=0"}');
});

const ANSWER = [
  'v=0',
  'o=- 1 1 IN IP4 127.0.0.1',
  'a=ice-lite',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'a=candidate:1 1 udp 2130706431 127.0.0.1 8480 typ host',
  'a=end-of-candidates',
  'a=mid:0',
  '',
].join('\r\n');

test('Answer: the signaling host joins the server candidates on the same port, before end-of-candidates', () => {
  const sdp = withSignalingHost(ANSWER, '192.0.2.5');
  const lines = sdp.split('\r\n');
  const at = lines.indexOf('a=candidate:2 1 udp 2130706175 192.0.2.5 8480 typ host');
  assert.ok(at > 0, sdp);
  assert.equal(lines[at - 1], 'a=candidate:1 1 udp 2130706431 127.0.0.1 8480 typ host');
  assert.equal(lines[at + 1], 'a=end-of-candidates');
  assert.equal(withSignalingHost(ANSWER, '[2001:db8::1]').includes(' 2001:db8::1 8480 typ host'), true);
});

test('Answer: unchanged when the host is announced already, is localhost, or there is no UDP candidate', () => {
  assert.equal(withSignalingHost(ANSWER, '127.0.0.1'), ANSWER);
  assert.equal(withSignalingHost(ANSWER, 'localhost'), ANSWER);
  const tcpOnly = ANSWER.replace(' udp ', ' tcp ');
  assert.equal(withSignalingHost(tcpOnly, '192.0.2.5'), tcpOnly);
});

test('Emitter: listeners run in order, off removes one, and one that throws does not stop the rest', () => {
  const events = new Emitter<{ ping: [n: number] }>();
  const seen: string[] = [];
  const second = (n: number) => seen.push(`second ${n}`);
  events.on('ping', (n) => seen.push(`first ${n}`));
  events.on('ping', () => {
    throw new Error('listener bug');
  });
  events.on('ping', second);
  const error = console.error;
  console.error = () => {};
  try {
    events.emit('ping', 1);
    events.off('ping', second);
    events.emit('ping', 2);
  } finally {
    console.error = error;
  }
  assert.deepEqual(seen, ['first 1', 'second 1', 'first 2']);
  events.removeAllListeners();
  events.emit('ping', 3);
  assert.equal(seen.length, 3);
});
