// Who a message reaches. The same rules serve the sending SDK (to fail early) and the
// server (which decides for real).

import { ByteWriter } from './bytes.js';
import { SwitchboardError } from './errors.js';
import { writeFrame, type DecodedFrame } from './frame.js';
import { MAX_RECIPIENTS, tooManyParticipants, type Identity, type ParticipantId } from './options.js';
import type { Roster } from './roster.js';

// A sender's recipient identities → participant ids in the call now. Empty list =
// everyone (returns an empty list). More than 64 → TOO_MANY_PARTICIPANTS; identities not
// in the call, and the sender itself, are skipped; none left → NO_VALID_PARTICIPANT.
export function resolveRecipients(
  roster: Roster,
  self: ParticipantId,
  participants: readonly Identity[],
): ParticipantId[] {
  const ids: ParticipantId[] = [];
  if (participants.length === 0) return ids;
  if (participants.length > MAX_RECIPIENTS) throw tooManyParticipants(participants.length);
  for (const identity of participants) {
    const p = roster.findIdentity(identity);
    if (!p || p.id === self) continue;
    if (!ids.includes(p.id)) ids.push(p.id);
  }
  if (ids.length === 0) {
    throw new SwitchboardError('NO_VALID_PARTICIPANT', 'none of the listed participants is in the call');
  }
  return ids;
}

// The participants a frame from `from` goes to: those in `to` still in the call (each
// once), or everyone but the sender when `to` is empty.
export function routeFrame(roster: Roster, from: ParticipantId, to: readonly ParticipantId[]): ParticipantId[] {
  const out: ParticipantId[] = [];
  if (to.length === 0) {
    for (const p of roster.participants()) if (p.id !== from) out.push(p.id);
    return out;
  }
  for (const id of to) {
    if (id === from || !roster.contains(id) || out.includes(id)) continue;
    out.push(id);
  }
  return out;
}

// Re-encodes a received client frame for its recipients: the sender stamped from the
// authenticated connection, the recipient list removed.
export function restampFrame(frame: DecodedFrame, from: ParticipantId, out: ByteWriter): void {
  writeFrame(out, { ...frame.header, from }, [], frame.payload);
}
