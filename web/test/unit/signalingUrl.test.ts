// Which WebSocket URL a server URL means (src/client/signalingSocket.ts): a page served
// over https joins over wss (the demo derives its default server from the page's own
// scheme, web/demo/app.ts), and wss stays wss, so the browser's certificate checks apply.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { signalingUrl } from '../../src/client/signalingSocket.js';
import { SwitchboardError } from '../../src/core/errors.js';

test('https and wss servers are reached over wss', () => {
  assert.equal(signalingUrl('https://switchboard.example.org').href, 'wss://switchboard.example.org/v1/signal');
  assert.equal(signalingUrl('wss://127.0.0.1:8480').href, 'wss://127.0.0.1:8480/v1/signal');
  assert.equal(signalingUrl('wss://h.example/custom').href, 'wss://h.example/custom');
});

test('http and ws servers are reached over ws', () => {
  assert.equal(signalingUrl('http://127.0.0.1:8480').href, 'ws://127.0.0.1:8480/v1/signal');
  assert.equal(signalingUrl('ws://127.0.0.1:8480/').href, 'ws://127.0.0.1:8480/v1/signal');
});

test('other schemes are refused', () => {
  assert.throws(
    () => signalingUrl('ftp://example.org'),
    (e: unknown) => e instanceof SwitchboardError && e.code === 'INVALID_ARGUMENT',
  );
});
