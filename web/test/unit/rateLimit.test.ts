// The send allowance: byte and message buckets (tests/core/rate_limit_test.cpp).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { RateLimit } from '../../src/core/rateLimit.js';

const t0 = 0;

test('RateLimit: zero means unlimited', () => {
  const limiter = new RateLimit(0, 0, 1, t0);
  for (let i = 0; i < 100000; i++) assert.ok(limiter.admit(1 << 20, t0));
});

test('RateLimit: the bytes burst is one second, then it refills at the rate', () => {
  const limiter = new RateLimit(1000, 0, 1, t0);
  assert.ok(limiter.admit(600, t0));
  assert.ok(limiter.admit(400, t0));
  assert.ok(!limiter.admit(1, t0));
  assert.ok(!limiter.admit(200, t0 + 100)); // 100 bytes refilled
  assert.ok(limiter.admit(200, t0 + 200));
  assert.ok(!limiter.admit(1, t0 + 200));
  // Refill never exceeds the burst.
  assert.ok(limiter.admit(1000, t0 + 100_000));
  assert.ok(!limiter.admit(1, t0 + 100_000));
});

test('RateLimit: the messages burst is one second', () => {
  const limiter = new RateLimit(0, 10, 1, t0);
  for (let i = 0; i < 10; i++) assert.ok(limiter.admit(5, t0));
  assert.ok(!limiter.admit(5, t0));
  assert.ok(limiter.admit(5, t0 + 100));
  assert.ok(!limiter.admit(5, t0 + 100));
});

test('RateLimit: refused messages are not charged', () => {
  const limiter = new RateLimit(1000, 2, 1, t0);
  assert.ok(limiter.admit(900, t0));
  assert.ok(!limiter.admit(200, t0)); // over the bytes
  assert.ok(limiter.admit(100, t0)); // the refused one cost nothing
  assert.ok(!limiter.admit(0, t0)); // out of messages
});

test('RateLimit: a message larger than the burst passes when full, then the average holds', () => {
  const limiter = new RateLimit(1000, 0, 1, t0);
  assert.ok(limiter.admit(3000, t0));
  assert.ok(!limiter.admit(1, t0 + 2000)); // still paying off 2000 of debt
  assert.ok(limiter.admit(1, t0 + 2100));
});

test('RateLimit: burst seconds scale the bucket', () => {
  const limiter = new RateLimit(1000, 10, 4, t0);
  for (let i = 0; i < 10; i++) assert.ok(limiter.admit(400, t0)); // 4000 bytes
  assert.ok(!limiter.admit(1, t0));
  const messages = new RateLimit(0, 10, 4, t0);
  for (let i = 0; i < 40; i++) assert.ok(messages.admit(1, t0));
  assert.ok(!messages.admit(1, t0));
});

test('RateLimit: allows does not charge until taken', () => {
  const limiter = new RateLimit(1000, 1, 1, t0);
  assert.ok(limiter.allows(1000, t0));
  assert.ok(limiter.allows(1000, t0));
  limiter.take(1000);
  assert.ok(!limiter.allows(1, t0));
});

test('RateLimit: the default is unlimited', () => {
  const limiter = new RateLimit();
  assert.ok(limiter.unlimited);
  assert.ok(limiter.admit(2 ** 30, t0));
});
