// Channel ids: explicit ones kept, 0 = a random free one in 1024..65535
// (tests/core/channel_id_test.cpp).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ChannelIdAllocator } from '../../src/core/channelIdAllocator.js';
import { DataChannelEndpoint } from '../../src/core/endpoint.js';
import { LocalCall } from '../../src/core/localCall.js';
import { Inbox, T0, text, throwsCode } from './support.js';

test('ChannelId: explicit ids at both ends of the range are kept', () => {
  const ids = new ChannelIdAllocator(1);
  assert.equal(ids.acquire(1), 1);
  assert.equal(ids.acquire(1), 1);
  assert.equal(ids.acquire(65535), 65535);
  assert.equal(ids.acquire(7), 7);
});

test('ChannelId: out of range fails with INVALID_CHANNEL_ID', () => {
  const ids = new ChannelIdAllocator(1);
  for (const bad of [65536, 70000, 0xffffffff, -1, 1.5, Number.NaN]) throwsCode(() => ids.acquire(bad), 'INVALID_CHANNEL_ID');
});

test('ChannelId: 0 picks distinct free ids from 1024 to 65535', () => {
  const ids = new ChannelIdAllocator(42);
  ids.acquire(5000); // taken explicitly: must not be handed out again
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const id = ids.acquire(0);
    assert.ok(id >= 1024 && id <= 65535, `id ${id}`);
    assert.notEqual(id, 5000);
    assert.ok(!seen.has(id), `id ${id} handed out twice`);
    seen.add(id);
  }
});

test('ChannelId: 0 picks at random, not in sequence', () => {
  const a = new ChannelIdAllocator(1);
  const b = new ChannelIdAllocator(2);
  const fromA = Array.from({ length: 8 }, () => a.acquire(0));
  const fromB = Array.from({ length: 8 }, () => b.acquire(0));
  assert.notDeepEqual(fromA, fromB);
  let consecutive = 0;
  for (let i = 1; i < fromA.length; i++) if (fromA[i] === fromA[i - 1]! + 1) consecutive++;
  assert.ok(consecutive < 7);
  // Unseeded allocators differ too.
  assert.notDeepEqual(
    Array.from({ length: 4 }, () => new ChannelIdAllocator().acquire(0)),
    Array.from({ length: 4 }, () => new ChannelIdAllocator().acquire(0)),
  );
});

test('ChannelId: an exhausted range fails with NO_AVAILABLE_CHANNEL_ID', () => {
  const ids = new ChannelIdAllocator(3);
  for (let i = 1024; i <= 65535; i++) ids.acquire(i);
  throwsCode(() => ids.acquire(0), 'NO_AVAILABLE_CHANNEL_ID');
  ids.release(31337);
  assert.equal(ids.acquire(0), 31337);
});

test("ChannelId: a closed sender's id becomes free again", () => {
  const call = new LocalCall();
  const alice = call.join('alice', T0);
  const s = alice.createSender({ channelId: 10000 }, T0);
  assert.equal(alice.openSender(10000), s);
  alice.close(s);
  assert.equal(alice.openSender(10000), undefined);
});

test('ChannelId: the endpoint rejects an out-of-range channel id', () => {
  const alice = new DataChannelEndpoint(1);
  throwsCode(() => alice.createSender({ channelId: 65536 }, T0), 'INVALID_CHANNEL_ID');
  throwsCode(() => alice.createSender({ channelId: -3 }, T0), 'INVALID_CHANNEL_ID');
});

test('ChannelId: creating a sender on an open channel closes the old one first', () => {
  const call = new LocalCall();
  const alice = call.join('alice', T0);
  const bob = call.join('bob', T0);
  const inbox = new Inbox(bob);

  const first = alice.createSender({ channelId: 9 }, T0);
  alice.send(first, text('old'));
  const second = alice.createSender({ channelId: 9 }, T0);
  assert.equal(first.closed, true);
  throwsCode(() => alice.send(first, text('late')), 'SENDER_CLOSED');
  assert.equal(alice.send(second, text('new')), 1);
  call.pump(T0);

  assert.deepEqual(inbox.events, [
    'created 9 alice readable=0',
    'message 9 alice 1',
    'closed 9 alice sender_closed',
    'created 9 alice readable=0',
    'message 9 alice 1',
  ]);
  // Closing the replaced sender later must not free the id the new sender holds.
  alice.close(first);
  assert.equal(alice.openSender(9), second);
});
