// The transport's side of the path switch (src/client/callTransport.ts): held direct
// messages are released by their SWITCH only, however long the server path takes; and a
// failed direct connection, and only a failed one, is reported with `p2p_failed`.
//
// The transport makes its ServerLink and PeerConnection itself, so the test stands in for
// them from inside: it sets the direct session and hands in what each path brings
// (onDirectMessage, onServerData), on a clock of its own.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';

import {
  ACK_INTERVAL_MS,
  CallTransport,
  DIRECT_SILENCE_MS,
  type TransportHandlers,
} from '../../src/client/callTransport.js';
import { CONTROL_STREAM } from '../../src/client/dataConnection.js';
import { PEER_CONNECT_TIMEOUT_MS } from '../../src/client/peerConnection.js';
import type {
  JoinedMessage,
  P2pMessage,
  ParticipantEntry,
  SignalMessage,
} from '../../src/client/signaling.js';
import { ByteWriter, loadU32 } from '../../src/core/bytes.js';
import { encodeFrame, frameHeader, FrameType } from '../../src/core/frame.js';
import { encodeDirectAck } from '../../src/core/pathSwitch.js';
import type { ParticipantId } from '../../src/core/options.js';
import { streamOf } from '../../src/core/trafficClass.js';

const PEER: ParticipantId = 2;
const DURABLE_NORMAL = streamOf({ reliability: 'Durable', priority: 'Normal' });

interface FakeLink {
  send(stream: number, message: Uint8Array): boolean;
  close(): void;
  bufferedAmount: number;
}

// What the test reaches inside the transport.
interface Inside {
  direct: { peer: ParticipantId; session: number; link: FakeLink; up: boolean } | undefined;
  onDirectMessage(session: number, stream: number, message: Uint8Array): void;
  onServerData(data: Uint8Array): void;
}

function message(n: number): Uint8Array {
  const w = new ByteWriter(4);
  w.u32(n);
  return w.copy();
}

// Path-control frames as the server relays them: stamped with the peer.
function switchFrom(peer: ParticipantId, session: number): Uint8Array {
  return encodeFrame(frameHeader({ type: FrameType.Switch, channelId: 0, sequence: session, from: peer }));
}

function resentFrom(peer: ParticipantId, session: number, index: number, inner: Uint8Array): Uint8Array {
  const payload = new ByteWriter(4 + inner.length);
  payload.u32(index);
  payload.bytes(inner);
  return encodeFrame(frameHeader({ type: FrameType.Resent, channelId: 0, sequence: session, from: peer }), [], payload.written());
}

// A p2p transport of call-1 whose handlers ignore everything but `peerData`.
function newTransport(peerData: TransportHandlers['peerData'] = () => {}): CallTransport {
  const ignore = (): void => {};
  const handlers: TransportHandlers = {
    joined: ignore,
    connected: ignore,
    reconnecting: ignore,
    rejoined: ignore,
    participantJoined: ignore,
    participantLeft: ignore,
    data: ignore,
    peerData,
    error: ignore,
    writable: ignore,
    closed: ignore,
    pathChanged: ignore,
  };
  return new CallTransport(
    { server: 'ws://127.0.0.1:1', callId: 'call-1', token: 't', p2p: true, reconnectTimeoutMs: 0 },
    handlers,
  );
}

function transport(received: number[]): { transport: CallTransport; inside: Inside } {
  const t = newTransport((peer, m) => {
    assert.equal(peer, PEER);
    received.push(loadU32(m, 0));
  });
  return { transport: t, inside: t as unknown as Inside };
}

function directSession(session: number): Inside['direct'] {
  return { peer: PEER, session, link: { send: () => true, close: () => {}, bufferedAmount: 0 }, up: true };
}

describe('CallTransport', () => {
  let clock = 0;
  beforeEach(() => {
    clock = 0;
    mock.timers.enable({ apis: ['setTimeout'] });
    mock.method(performance, 'now', () => clock);
  });
  afterEach(() => {
    mock.timers.reset();
    mock.restoreAll();
  });

  // The web twin of DirectReceiveLog.ANewSessionWaitsBehindTheRESENTRunOfTheOneBeforeIt,
  // through the transport and its timers: a minute passes between the new session's direct
  // messages and the server path's RESENT run and SWITCH, and still nothing overtakes.
  test('held direct messages wait for their SWITCH however late', () => {
    const received: number[] = [];
    const { transport: t, inside } = transport(received);

    inside.direct = directSession(1);
    inside.onServerData(switchFrom(PEER, 1));
    for (let i = 0; i < 4; i++) inside.onDirectMessage(1, DURABLE_NORMAL, message(i));
    assert.deepEqual(received, [0, 1, 2, 3]);

    // Session 1 failed with 4..9 unacknowledged (RESENT through the server); session 2 is up.
    inside.direct = directSession(2);
    const direct = 1000;
    for (let i = 10; i < 10 + direct; i++) inside.onDirectMessage(2, DURABLE_NORMAL, message(i));
    for (let s = 0; s < 60; s++) {
      clock += 1000;
      mock.timers.tick(1000);
    }
    assert.deepEqual(received, [0, 1, 2, 3], 'nothing of session 2 before its SWITCH');

    for (let i = 4; i < 10; i++) inside.onServerData(resentFrom(PEER, 1, i, message(i)));
    assert.equal(received.length, 10);
    inside.onServerData(switchFrom(PEER, 2));

    assert.equal(received.length, 10 + direct);
    for (let i = 0; i < received.length; i++) {
      if (received[i] !== i) assert.fail(`message ${received[i]} arrived at position ${i}`);
    }
    t.leave();
  });
});

// ---- p2p_failed (docs/protocol.md, "Peer-to-peer") ----
//
// Here the transport's own ServerLink and PeerConnection run, on fakes of what they stand on:
// the link's signaling socket records what is sent (the link is put in its joined state), and
// RTCPeerConnection is a fake whose channels the test opens, fails and breaks.

class FakeChannel {
  readyState: RTCDataChannelState = 'connecting';
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  binaryType = 'blob';
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: (() => void) | null = null;
  onbufferedamountlow: (() => void) | null = null;
  broken = false;  // send() throws, as a channel that died does
  send(): void {
    if (this.broken) throw new Error('the channel died');
  }
  open(): void {
    this.readyState = 'open';
    this.onopen?.();
  }
}

class FakePeerConnection {
  static made: FakePeerConnection[] = [];
  connectionState: RTCPeerConnectionState = 'new';
  signalingState: RTCSignalingState = 'stable';
  onconnectionstatechange: (() => void) | null = null;
  onicecandidate: ((event: unknown) => void) | null = null;
  readonly channels: FakeChannel[] = [];
  constructor() {
    FakePeerConnection.made.push(this);
  }
  createDataChannel(): FakeChannel {
    const channel = new FakeChannel();
    this.channels.push(channel);
    return channel;
  }
  close(): void {
    this.signalingState = 'closed';
  }
  // Every channel opens: the direct connection is up.
  up(): void {
    for (const channel of this.channels) channel.open();
  }
  // ICE, DTLS or SCTP gave up.
  fail(): void {
    this.connectionState = 'failed';
    this.onconnectionstatechange?.();
  }
  // What the peer sends on one stream.
  receive(stream: number, bytes: Uint8Array): void {
    this.channels[stream]!.onmessage?.({ data: bytes.slice().buffer });
  }
}

interface LinkInside {
  state: string;
  ws: { send(m: SignalMessage): void; close(): void } | undefined;
  onMessage(m: SignalMessage): void;
}

interface TransportInside {
  link: LinkInside;
  direct: { peer: ParticipantId; session: number; up: boolean } | undefined;
  sendLog: unknown;
  onJoined(joined: JoinedMessage): void;
}

const SELF: ParticipantId = 1;
const CAROL: ParticipantId = 3;
const DURABLE = { reliability: 'Durable', priority: 'Normal' } as const;

function participant(id: ParticipantId): ParticipantEntry {
  return { participantId: id, identity: `user-${id}`, displayName: '' };
}

// A transport joined to a call of SELF and PEER. `signals` gets what goes to the server.
function joinedTransport(signals: SignalMessage[]): {
  transport: CallTransport;
  link: LinkInside;
  inside: TransportInside;
} {
  const t = newTransport();
  const inside = t as unknown as TransportInside;
  const link = inside.link;
  link.state = 'negotiating';  // joined; the data connection to the server is not needed here
  link.ws = { send: (m) => signals.push(m), close: () => {} };
  inside.onJoined({
    type: 'joined',
    ...participant(SELF),
    call: 'call-1',
    participants: [participant(PEER)],
    iceServers: [],
    maxMessageSize: 262144,
  });
  return { transport: t, link, inside };
}

function p2p(session: number): P2pMessage {
  return { type: 'p2p', peer: PEER, session, offer: false };
}

function p2pFailed(signals: SignalMessage[]): SignalMessage[] {
  return signals.filter((m) => m.type === 'p2p_failed');
}

describe('CallTransport p2p_failed', () => {
  let clock = 0;
  const pass = (ms: number): void => {
    for (let left = ms; left > 0; left -= 100) {
      clock += 100;
      mock.timers.tick(100);
    }
  };
  beforeEach(() => {
    clock = 0;
    FakePeerConnection.made = [];
    mock.timers.enable({ apis: ['setTimeout'] });
    mock.method(performance, 'now', () => clock);
    mock.method(console, 'info', () => {});
    mock.method(console, 'warn', () => {});
    (globalThis as Record<string, unknown>).RTCPeerConnection = FakePeerConnection;
  });
  afterEach(() => {
    delete (globalThis as Record<string, unknown>).RTCPeerConnection;
    mock.timers.reset();
    mock.restoreAll();
  });

  test('AFailedDirectConnectionSendsOneP2pFailedWithItsPeerAndSession', () => {
    const signals: SignalMessage[] = [];
    const { transport: t, link } = joinedTransport(signals);
    link.onMessage(p2p(3));
    FakePeerConnection.made[0]!.fail();
    assert.deepEqual(p2pFailed(signals), [{ type: 'p2p_failed', peer: PEER, session: 3 }]);
    pass(PEER_CONNECT_TIMEOUT_MS + DIRECT_SILENCE_MS);  // no set-up bound or silence of it reports again
    assert.equal(p2pFailed(signals).length, 1);
    t.leave();
  });

  test('ADirectConnectionNotUpWithinItsSetUpBoundSendsP2pFailed', () => {
    const signals: SignalMessage[] = [];
    const { transport: t, link } = joinedTransport(signals);
    link.onMessage(p2p(5));
    pass(PEER_CONNECT_TIMEOUT_MS - 100);
    assert.deepEqual(p2pFailed(signals), []);
    pass(200);
    assert.deepEqual(p2pFailed(signals), [{ type: 'p2p_failed', peer: PEER, session: 5 }]);
    t.leave();
  });

  test('APeerSilentForDirectSilenceMsSendsP2pFailed', () => {
    const signals: SignalMessage[] = [];
    const { transport: t, link, inside } = joinedTransport(signals);
    link.onMessage(p2p(6));
    FakePeerConnection.made[0]!.up();
    assert.ok(inside.sendLog, 'our frames go direct');
    pass(DIRECT_SILENCE_MS);
    assert.deepEqual(p2pFailed(signals), []);
    pass(ACK_INTERVAL_MS + 100);
    assert.deepEqual(p2pFailed(signals), [{ type: 'p2p_failed', peer: PEER, session: 6 }]);
    assert.equal(inside.direct, undefined);
    t.leave();
  });

  test('ADirectSendThatFailsSendsOneP2pFailed', () => {
    const signals: SignalMessage[] = [];
    const { transport: t, link, inside } = joinedTransport(signals);
    link.onMessage(p2p(7));
    const pc = FakePeerConnection.made[0]!;
    pc.up();
    assert.ok(inside.sendLog, 'our frames go direct');
    pc.channels[DURABLE_NORMAL]!.broken = true;
    assert.equal(t.send(DURABLE, message(1)), false);
    pass(100);  // the transport's own report of the failed send, after the connection's
    assert.deepEqual(p2pFailed(signals), [{ type: 'p2p_failed', peer: PEER, session: 7 }]);
    t.leave();
  });

  test('LeavingTheDirectPathForAnyOtherReasonSendsNoP2pFailed', () => {
    const exits: Record<string, (link: LinkInside, t: CallTransport, pc: FakePeerConnection) => void> = {
      'a third participant joins': (link) =>
        link.onMessage({ type: 'participant_joined', ...participant(CAROL) }),
      'the peer leaves': (link) =>
        link.onMessage({ type: 'participant_left', participantId: PEER, identity: `user-${PEER}` }),
      'a new p2p session replaces it': (link) => link.onMessage(p2p(11)),
      'the peer acknowledges what we never sent': (_link, _t, pc) =>
        pc.receive(CONTROL_STREAM, encodeDirectAck({ session: 10, received: [5, 0] })),
      'we leave': (_link, t) => t.leave(),
    };
    for (const [exit, run] of Object.entries(exits)) {
      const signals: SignalMessage[] = [];
      const { transport: t, link, inside } = joinedTransport(signals);
      link.onMessage(p2p(10));
      const pc = FakePeerConnection.made.at(-1)!;
      pc.up();
      assert.ok(inside.sendLog, `${exit}: our frames go direct first`);
      run(link, t, pc);
      assert.notEqual(inside.direct?.session, 10, `${exit}: session 10 is left`);
      pc.fail();  // whatever the old connection says afterwards
      // Nor a timer of the old session later (a replacing session has timers of its own).
      if (!inside.direct) pass(PEER_CONNECT_TIMEOUT_MS);
      assert.deepEqual(p2pFailed(signals), [], exit);
      t.leave();
    }
  });

  test('AFailedConnectionToAParticipantNotInTheCallSendsNoP2pFailed', () => {
    const signals: SignalMessage[] = [];
    const { transport: t, link } = joinedTransport(signals);
    link.onMessage({ type: 'p2p', peer: CAROL, session: 8, offer: false });  // carol is not in our roster
    FakePeerConnection.made[0]!.fail();
    assert.deepEqual(p2pFailed(signals), []);
    t.leave();
  });

  test('AP2pAfterAFailureMakesANewDirectAttempt', () => {
    const signals: SignalMessage[] = [];
    const { transport: t, link, inside } = joinedTransport(signals);
    link.onMessage(p2p(3));
    FakePeerConnection.made[0]!.fail();
    assert.equal(inside.direct, undefined);

    link.onMessage(p2p(4));  // the server tries again after its backoff
    assert.equal(FakePeerConnection.made.length, 2);
    assert.equal((inside as TransportInside).direct?.session, 4);
    FakePeerConnection.made[1]!.up();
    assert.ok(inside.sendLog, 'our frames go direct again');
    FakePeerConnection.made[1]!.fail();
    assert.deepEqual(p2pFailed(signals), [
      { type: 'p2p_failed', peer: PEER, session: 3 },
      { type: 'p2p_failed', peer: PEER, session: 4 },
    ]);
    t.leave();
  });
});
