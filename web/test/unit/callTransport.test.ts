// The transport's side of the path switch (src/client/callTransport.ts): held direct
// messages are released by their SWITCH only, however long the server path takes.
//
// The transport makes its ServerLink and PeerConnection itself, so the test stands in for
// them from inside: it sets the direct session and hands in what each path brings
// (onDirectMessage, onServerData), on a clock of its own.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';

import { CallTransport, type TransportHandlers } from '../../src/client/callTransport.js';
import { ByteWriter, loadU32 } from '../../src/core/bytes.js';
import { encodeFrame, frameHeader, FrameType } from '../../src/core/frame.js';
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

function transport(received: number[]): { transport: CallTransport; inside: Inside } {
  const ignore = (): void => {};
  const handlers: TransportHandlers = {
    joined: ignore,
    connected: ignore,
    reconnecting: ignore,
    rejoined: ignore,
    participantJoined: ignore,
    participantLeft: ignore,
    data: ignore,
    peerData: (peer, m) => {
      assert.equal(peer, PEER);
      received.push(loadU32(m, 0));
    },
    error: ignore,
    writable: ignore,
    closed: ignore,
    pathChanged: ignore,
  };
  const t = new CallTransport(
    { server: 'ws://127.0.0.1:1', callId: 'call-1', token: 't', p2p: true, reconnectTimeoutMs: 0 },
    handlers,
  );
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
