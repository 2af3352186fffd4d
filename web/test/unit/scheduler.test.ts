// The frame scheduler and poll: priority, fairness, fragmentation, batching, pacing
// (tests/core/scheduler_test.cpp).

import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import { DataChannelEndpoint } from '../../src/core/endpoint.js';
import { decodeFrames, FrameType } from '../../src/core/frame.js';
import type { SenderOptions } from '../../src/core/options.js';
import type { TrafficClass } from '../../src/core/trafficClass.js';
import { filled, T0, text } from './support.js';

interface Polled {
  channel: number;
  type: number;
  payload: number;
  sequence: number;
  cls: TrafficClass;
}

// Drains an endpoint one transport message at a time, small enough that each holds one
// frame, and records the frames in order.
function drain(e: DataChannelEndpoint, now: number, limit = 100000): Polled[] {
  const out: Polled[] = [];
  while (out.length < limit) {
    const message = e.poll(now, 1);
    if (!message) break;
    const { frames, error } = decodeFrames(message.bytes);
    assert.equal(error, undefined);
    assert.equal(frames.length, 1, 'a 1-byte limit still lets one frame through');
    for (const f of frames) {
      out.push({ channel: f.header.channelId, type: f.header.type, payload: f.payload.length, sequence: f.header.sequence, cls: message.cls });
    }
  }
  return out;
}

describe('Scheduler', () => {
  let endpoint: DataChannelEndpoint;
  const sender = (o: SenderOptions) => endpoint.createSender(o, T0);

  beforeEach(() => {
    endpoint = new DataChannelEndpoint(1, { seed: 7 });
    endpoint.participantJoined({ id: 1, identity: 'me', displayName: '' }, T0);
    endpoint.participantJoined({ id: 2, identity: 'you', displayName: '' }, T0);
  });

  test('high-priority frames leave before normal ones', () => {
    const normal = sender({ channelId: 1 });
    const high = sender({ channelId: 2, priority: 'High' });
    for (let i = 0; i < 5; i++) endpoint.send(normal, filled(100));
    for (let i = 0; i < 5; i++) endpoint.send(high, filled(100));
    const frames = drain(endpoint, T0);
    assert.deepEqual(frames.map((f) => f.channel), [2, 2, 2, 2, 2, 1, 1, 1, 1, 1]);
    assert.ok(frames.slice(0, 5).every((f) => f.cls.priority === 'High'));
    assert.ok(frames.slice(5).every((f) => f.cls.priority === 'Normal'));
  });

  test('channels of one priority share bytes fairly', () => {
    const small = sender({ channelId: 1 });
    const large = sender({ channelId: 2 });
    for (let i = 0; i < 2000; i++) endpoint.send(small, filled(100));
    for (let i = 0; i < 20; i++) endpoint.send(large, filled(16 * 1024));
    // While both have data queued, each gets about half the bytes.
    const bytes = new Map<number, number>([[1, 0], [2, 0]]);
    for (const p of drain(endpoint, T0)) {
      bytes.set(p.channel, bytes.get(p.channel)! + p.payload);
      if (bytes.get(1)! + bytes.get(2)! >= 160 * 1024) break;
    }
    const share = bytes.get(1)! / (bytes.get(1)! + bytes.get(2)!);
    assert.ok(Math.abs(share - 0.5) <= 0.1, `share ${share}`);
  });

  test('a large message is fragmented and does not block another channel', () => {
    const bulk = sender({ channelId: 1 });
    const chat = sender({ channelId: 2 });
    endpoint.send(bulk, filled(256 * 1024));
    endpoint.send(chat, text('hi'));
    const frames = drain(endpoint, T0);
    assert.equal(frames.length, 17); // 16 fragments of 16 KiB + the chat message
    const chatIndex = frames.findIndex((f) => f.channel === 2);
    assert.ok(chatIndex <= 2, `the small message waited behind the large one (frame ${chatIndex})`);
    assert.ok(frames.filter((f) => f.channel === 1).every((f) => f.payload === 16 * 1024));
  });

  test('fragments of two large messages interleave across channels', () => {
    const a = sender({ channelId: 1 });
    const b = sender({ channelId: 2 });
    endpoint.send(a, filled(128 * 1024));
    endpoint.send(b, filled(128 * 1024));
    const order = drain(endpoint, T0).map((f) => f.channel);
    assert.equal(order.length, 16);
    // Neither channel sends more than one fragment in a row while both have data.
    for (let i = 1; i < order.length; i++) assert.notEqual(order[i], order[i - 1], order.join(','));
  });

  test('frames are batched per traffic class, each batch at most 64 KiB', () => {
    const durable = sender({ channelId: 1 });
    const lossy = sender({ channelId: 2, reliability: 'Lossy' });
    for (let i = 0; i < 200; i++) {
      endpoint.send(durable, filled(1000, 1));
      endpoint.send(lossy, filled(1000, 2));
    }
    let batches = 0;
    let frames = 0;
    for (let m = endpoint.poll(T0, 64 * 1024); m; m = endpoint.poll(T0, 64 * 1024)) {
      batches++;
      assert.ok(m.bytes.length <= 64 * 1024, `batch of ${m.bytes.length} bytes`);
      const decoded = decodeFrames(m.bytes);
      assert.equal(decoded.error, undefined);
      for (const f of decoded.frames) {
        assert.equal(f.header.reliability, m.cls.reliability, 'a batch mixed traffic classes');
        frames++;
      }
    }
    assert.equal(frames, 400);
    assert.ok(batches < 40, `small frames were not coalesced (${batches} batches)`);
    assert.ok(endpoint.idle);
  });

  test('a single frame larger than the limit still goes, alone', () => {
    const s = sender({ channelId: 1 });
    endpoint.send(s, filled(10_000));
    endpoint.send(s, filled(10));
    const first = endpoint.poll(T0, 1000)!;
    assert.equal(decodeFrames(first.bytes).frames.length, 1);
    assert.equal(first.bytes.length, 14 + 10_000);
    assert.equal(decodeFrames(endpoint.poll(T0, 1000)!.bytes).frames.length, 1);
    assert.equal(endpoint.poll(T0, 1000), undefined);
  });

  test('a lossy close notice travels durable', () => {
    const lossy = sender({ channelId: 3, reliability: 'Lossy' });
    endpoint.send(lossy, filled(10));
    endpoint.close(lossy);
    const frames = drain(endpoint, T0);
    assert.equal(frames.length, 2);
    assert.equal(frames[0]!.cls.reliability, 'Lossy');
    assert.equal(frames[1]!.type, FrameType.Close);
    assert.equal(frames[1]!.cls.reliability, 'Durable');
    assert.equal(frames[1]!.sequence, 1);
  });

  test('a close notice to more than 64 participants is split into lists of 64', () => {
    for (let id = 3; id <= 102; id++) endpoint.participantJoined({ id, identity: `p${id}`, displayName: '' }, T0);
    const s = sender({ channelId: 4, participants: Array.from({ length: 50 }, (_, i) => `p${i + 3}`) });
    endpoint.send(s, filled(10));
    endpoint.setParticipants(s, Array.from({ length: 50 }, (_, i) => `p${i + 53}`));
    endpoint.send(s, filled(10));
    endpoint.close(s);
    const closes: number[][] = [];
    for (let m = endpoint.poll(T0, 64 * 1024); m; m = endpoint.poll(T0, 64 * 1024)) {
      for (const f of decodeFrames(m.bytes).frames) if (f.header.type === FrameType.Close) closes.push(f.to);
    }
    assert.deepEqual(closes.map((to) => to.length), [64, 36]);
    assert.equal(new Set(closes.flat()).size, 100);
  });

  test('a paced sender waits and reports when it may send again', () => {
    const paced = sender({ channelId: 1, bitrateInKbps: 80 }); // 10 kB/s
    for (let i = 0; i < 10; i++) endpoint.send(paced, filled(1000));
    assert.equal(drain(endpoint, T0).length, 1);
    const wake = endpoint.nextWakeup(T0);
    assert.ok(wake !== undefined);
    assert.ok(wake > T0 && wake - T0 <= 110, `wake after ${wake - T0} ms`);
    assert.equal(drain(endpoint, wake - 1).length, 0);
    assert.equal(drain(endpoint, wake).length, 1);
  });
});
