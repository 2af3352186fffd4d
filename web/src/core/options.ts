// Sender options and the names shared with the public API (docs: include/switchboard/
// options.hpp is the C++ twin).

import { SwitchboardError } from './errors.js';

// Durable: ordered and lossless, or the send fails. Lossy: may drop or reorder, never
// reports a delivery error.
export type Reliability = 'Durable' | 'Lossy';
// High-priority traffic leaves before Normal traffic.
export type Priority = 'Normal' | 'High';
// Why a receiver closed: the agent's and the Web SDK's names.
export type ReceiverCloseReason = 'sender_closed' | 'participant_left' | 'idle';

// The participant identity, as carried in the access token's `sub`.
export type Identity = string;
// A participant's number within one call, assigned by the server when it joins and never
// reused in that call. Frames name participants by it.
export type ParticipantId = number;
export const NO_PARTICIPANT: ParticipantId = 0;

export const MIN_CHANNEL_ID = 1;
export const MAX_CHANNEL_ID = 65535;
// channelId 0 (or absent) asks the SDK to allocate one from this range, as ACS does.
export const FIRST_ALLOCATED_CHANNEL_ID = 1024;
export const MAX_RECIPIENTS = 64;
export const DEFAULT_MAX_MESSAGE_SIZE = 256 * 1024;
export const LARGEST_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
// 10 Gbit/s: anything above is a unit mistake, not a pacing wish.
export const MAX_BITRATE_KBPS = 10_000_000;

export interface SenderOptions {
  // 0 or absent = let the SDK pick a free id in 1024..65535.
  channelId?: number;
  reliability?: Reliability;
  priority?: Priority;
  // 0 or absent = no pacing; otherwise the sender's average rate is held to this.
  bitrateInKbps?: number;
  // Empty or absent = everyone in the call, including those who join later.
  participants?: readonly Identity[];
}

// Options after validation, every field present.
export interface ResolvedSenderOptions {
  channelId: number;
  reliability: Reliability;
  priority: Priority;
  bitrateInKbps: number;
  participants: Identity[];
}

// Case-insensitive: "durable", "Durable", "LOSSY".
export function parseReliability(name: string): Reliability | undefined {
  const lower = name.toLowerCase();
  if (lower === 'durable') return 'Durable';
  if (lower === 'lossy') return 'Lossy';
  return undefined;
}

export function parsePriority(name: string): Priority | undefined {
  const lower = name.toLowerCase();
  if (lower === 'normal') return 'Normal';
  if (lower === 'high') return 'High';
  return undefined;
}

function isUint(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

export function tooManyParticipants(count: number): SwitchboardError {
  return new SwitchboardError(
    'TOO_MANY_PARTICIPANTS',
    `${count} recipients listed; at most ${MAX_RECIPIENTS} are allowed`,
  );
}

// Checks a recipient list as JavaScript callers may pass it (any value).
export function validateParticipants(participants: unknown): Identity[] {
  if (participants === undefined) return [];
  if (!Array.isArray(participants) || !participants.every((p) => typeof p === 'string')) {
    throw new SwitchboardError('INVALID_ARGUMENT', 'participants must be an array of identity strings');
  }
  if (participants.length > MAX_RECIPIENTS) throw tooManyParticipants(participants.length);
  return [...(participants as string[])];
}

// Validates sender options that do not depend on the call and fills in the defaults.
// Throws SwitchboardError. The channel id's range is the allocator's to check.
export function validateSenderOptions(options: SenderOptions = {}): ResolvedSenderOptions {
  const { channelId = 0, reliability = 'Durable', priority = 'Normal', bitrateInKbps = 0 } = options;
  const r = typeof reliability === 'string' ? parseReliability(reliability) : undefined;
  if (!r) throw new SwitchboardError('INVALID_ARGUMENT', 'reliability must be Durable or Lossy');
  const p = typeof priority === 'string' ? parsePriority(priority) : undefined;
  if (!p) throw new SwitchboardError('INVALID_ARGUMENT', 'priority must be Normal or High');
  if (!isUint(bitrateInKbps, MAX_BITRATE_KBPS)) {
    throw new SwitchboardError(
      'INVALID_ARGUMENT',
      `bitrateInKbps ${String(bitrateInKbps)} must be a whole number from 0 to ${MAX_BITRATE_KBPS} (10 Gbit/s)`,
    );
  }
  const participants = validateParticipants(options.participants);
  if (typeof channelId !== 'number' || !Number.isInteger(channelId) || channelId < 0) {
    throw new SwitchboardError('INVALID_CHANNEL_ID', `channel id ${String(channelId)} is outside 1..65535`);
  }
  return { channelId, reliability: r, priority: p, bitrateInKbps, participants };
}
