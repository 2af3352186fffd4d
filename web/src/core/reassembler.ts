// Puts fragmented messages back together. Durable fragments of one sender channel arrive
// in order; lossy ones may arrive in any order or not at all, so partial messages are
// kept per sequence number, bounded in count and bytes, and expire.

import type { DecodedFrame } from './frame.js';
import type { ParticipantId, Reliability } from './options.js';

export interface ReassemblerLimits {
  maxPendingBytes: number;
  maxPartialsPerChannel: number;
  maxAgeMs: number;
}

export const DEFAULT_REASSEMBLER_LIMITS: Readonly<ReassemblerLimits> = {
  maxPendingBytes: 64 * 1024 * 1024,
  maxPartialsPerChannel: 4,
  maxAgeMs: 10_000,
};

interface PartialMessage {
  data: Uint8Array;
  // The fragments received, sorted by offset: [starts[i], ends[i]).
  starts: number[];
  ends: number[];
  received: number;
  firstSeen: number;
  reliability: Reliability;
}

// (sender, channel) in one number: ids are uint32, channels uint16, so it stays below 2^48.
function channelKey(from: ParticipantId, channelId: number): number {
  return from * 65536 + channelId;
}

export class Reassembler {
  private readonly limits: ReassemblerLimits;
  // (sender, channel) → sequence → partial message
  private readonly partials = new Map<number, Map<number, PartialMessage>>();
  private pending = 0;
  private discardedCount = 0;

  constructor(limits: Partial<ReassemblerLimits> = {}) {
    this.limits = { ...DEFAULT_REASSEMBLER_LIMITS, ...limits };
  }

  get pendingBytes(): number {
    return this.pending;
  }
  // Fragments discarded: overlapping, inconsistent, or evicted with their partial message.
  get discarded(): number {
    return this.discardedCount;
  }

  private erase(key: number, sequence: number, evicted: boolean): void {
    const channel = this.partials.get(key);
    const p = channel?.get(sequence);
    if (!channel || !p) return;
    if (evicted) this.discardedCount += p.starts.length;
    this.pending -= p.data.length;
    channel.delete(sequence);
    if (channel.size === 0) this.partials.delete(key);
  }

  private oldest(channels: Iterable<[number, Map<number, PartialMessage>]>): [number, number] | undefined {
    let found: [number, number] | undefined;
    let seen = Infinity;
    for (const [key, channel] of channels) {
      for (const [sequence, p] of channel) {
        if (p.firstSeen < seen) {
          seen = p.firstSeen;
          found = [key, sequence];
        }
      }
    }
    return found;
  }

  private evictFor(key: number, reliability: Reliability, incoming: number): void {
    // A durable channel has one message in flight at a time: a new one abandons the old.
    // A lossy channel keeps a few, dropping the oldest.
    const keep = reliability === 'Durable' ? 0 : this.limits.maxPartialsPerChannel - 1;
    for (let channel = this.partials.get(key); channel && channel.size > keep; channel = this.partials.get(key)) {
      const [, sequence] = this.oldest([[key, channel]])!;
      this.erase(key, sequence, true);
    }
    while (this.partials.size > 0 && this.pending + incoming > this.limits.maxPendingBytes) {
      const [k, sequence] = this.oldest(this.partials)!;
      this.erase(k, sequence, true);
    }
  }

  // Feeds one Data frame from `from`; returns the whole message (a copy) once this frame
  // completes it.
  add(from: ParticipantId, frame: DecodedFrame, now: number): Uint8Array | undefined {
    const h = frame.header;
    if (!h.fragmented || (h.fragmentOffset === 0 && frame.payload.length === h.messageSize)) {
      return frame.payload.slice();
    }
    const key = channelKey(from, h.channelId);
    let p = this.partials.get(key)?.get(h.sequence);
    if (!p) {
      if (h.messageSize > this.limits.maxPendingBytes) {
        this.discardedCount++;
        return undefined;
      }
      this.evictFor(key, h.reliability, h.messageSize);
      p = {
        data: new Uint8Array(h.messageSize),
        starts: [],
        ends: [],
        received: 0,
        firstSeen: now,
        reliability: h.reliability,
      };
      this.pending += h.messageSize;
      let channel = this.partials.get(key);
      if (!channel) this.partials.set(key, (channel = new Map()));
      channel.set(h.sequence, p);
    }
    const offset = h.fragmentOffset;
    const length = frame.payload.length;
    // Fragments of one message agree on its size and never overlap.
    const at = firstAtOrAfter(p.starts, offset);
    const consistent =
      p.data.length === h.messageSize &&
      (at === p.starts.length || p.starts[at]! >= offset + length) &&
      (at === 0 || p.ends[at - 1]! <= offset);
    if (!consistent) {
      this.discardedCount++;
      return undefined;
    }
    p.data.set(frame.payload, offset);
    p.starts.splice(at, 0, offset);
    p.ends.splice(at, 0, offset + length);
    p.received += length;
    if (p.received < p.data.length) return undefined;
    const whole = p.data;
    this.erase(key, h.sequence, false);
    return whole;
  }

  drop(from: ParticipantId, channelId?: number): void {
    for (const key of [...this.partials.keys()]) {
      const matches =
        channelId === undefined ? Math.floor(key / 65536) === from : key === channelKey(from, channelId);
      if (!matches) continue;
      for (const sequence of [...this.partials.get(key)!.keys()]) this.erase(key, sequence, false);
    }
  }

  expire(now: number): void {
    for (const [key, channel] of [...this.partials]) {
      for (const [sequence, p] of [...channel]) {
        if (p.reliability === 'Lossy' && now - p.firstSeen >= this.limits.maxAgeMs) this.erase(key, sequence, true);
      }
    }
  }

  nextExpiry(): number | undefined {
    let earliest: number | undefined;
    for (const channel of this.partials.values()) {
      for (const p of channel.values()) {
        if (p.reliability !== 'Lossy') continue;
        const at = p.firstSeen + this.limits.maxAgeMs;
        if (earliest === undefined || at < earliest) earliest = at;
      }
    }
    return earliest;
  }
}

// The index of the first element of sorted `values` that is >= `v`.
function firstAtOrAfter(values: readonly number[], v: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
