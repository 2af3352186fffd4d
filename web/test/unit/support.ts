// Shared helpers for the core's unit tests (the twin of tests/core/test_support.hpp).

import assert from 'node:assert/strict';

import type { DataChannelEndpoint } from '../../src/core/endpoint.js';
import { SwitchboardError, type ErrorCode } from '../../src/core/errors.js';
import type { ReceiverChannel } from '../../src/core/receiverChannel.js';

export interface Received {
  from: string;
  channel: number;
  sequence: number;
  data: Uint8Array;
}

// Records what one endpoint's receivers report, in order.
export class Inbox {
  // "created 10000 alice readable=0", "message 10000 alice 1", "closed 10000 alice idle"
  readonly events: string[] = [];
  readonly messages: Received[] = [];
  readonly receivers: ReceiverChannel[] = [];
  readonly errors: SwitchboardError[] = [];
  settled = 0;

  constructor(
    endpoint: DataChannelEndpoint,
    private readonly autoRead = true,
  ) {
    endpoint.setEvents({
      receiverCreated: (r) => {
        this.receivers.push(r);
        this.events.push(`created ${r.channelId} ${r.senderIdentity} readable=${r.unreadMessages}`);
      },
      messageReady: (r) => {
        if (!this.autoRead) return;
        for (let m = r.read(); m; m = r.read()) {
          this.events.push(`message ${r.channelId} ${r.senderIdentity} ${m.sequenceNumber}`);
          this.messages.push({ from: r.senderIdentity, channel: r.channelId, sequence: m.sequenceNumber, data: m.data });
        }
      },
      receiverClosed: (r) => {
        this.events.push(`closed ${r.channelId} ${r.senderIdentity} ${r.closeReason}`);
      },
      // With a payload cipher: what could not be opened, and events after ingest.
      messageRejected: (r, sequence, error) => {
        this.events.push(`rejected ${r.channelId} ${r.senderIdentity} ${sequence} ${error.code}`);
        this.errors.push(error);
      },
      settled: () => this.settled++,
    });
  }

  get sequences(): number[] {
    return this.messages.map((m) => m.sequence);
  }
}

// Deterministic bytes (the same xorshift32 as the C++ tests' pattern()).
export function pattern(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  let x = (Math.imul(seed, 2654435761) + 1) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    b[i] = x & 0xff;
  }
  return b;
}

export function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export function str(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

export function filled(size: number, value = 1): Uint8Array {
  return new Uint8Array(size).fill(value);
}

// Asserts that `fn` throws a SwitchboardError with `code`.
export function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SwitchboardError, `expected a SwitchboardError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

// A fixed starting time for simulated clocks (milliseconds).
export const T0 = 1_000_000;
