// Each frame belongs to a class: (durable | lossy) × (normal | high). A transport message
// holds frames of one class, carried on that class's data channel (docs/protocol.md,
// "The data path between a participant and the server").

import type { Priority, Reliability } from './options.js';

export interface TrafficClass {
  reliability: Reliability;
  priority: Priority;
}

export function sameClass(a: TrafficClass, b: TrafficClass): boolean {
  return a.reliability === b.reliability && a.priority === b.priority;
}

// The negotiated SCTP stream of a class: (lossy ? 2 : 0) + (high ? 1 : 0).
export function streamOf(cls: TrafficClass): number {
  return (cls.reliability === 'Lossy' ? 2 : 0) + (cls.priority === 'High' ? 1 : 0);
}

export function classOfStream(stream: number): TrafficClass | undefined {
  if (!Number.isInteger(stream) || stream < 0 || stream > 3) return undefined;
  return { reliability: stream >= 2 ? 'Lossy' : 'Durable', priority: stream % 2 === 1 ? 'High' : 'Normal' };
}

export const STREAM_LABELS = [
  'switchboard-durable',
  'switchboard-durable-high',
  'switchboard-lossy',
  'switchboard-lossy-high',
] as const;
