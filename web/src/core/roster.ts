// Who is in the call now. Identities are unique within a call.

import { NO_PARTICIPANT, type Identity, type ParticipantId } from './options.js';

export interface Participant {
  id: ParticipantId;
  identity: Identity;
  displayName: string;
}

export class Roster {
  private readonly byId = new Map<ParticipantId, Participant>();
  private readonly byIdentity = new Map<Identity, ParticipantId>();
  private changes = 0;

  // False when the id or the identity is already present.
  add(participant: Participant): boolean {
    if (
      participant.id === NO_PARTICIPANT ||
      this.byId.has(participant.id) ||
      this.byIdentity.has(participant.identity)
    ) {
      return false;
    }
    this.byIdentity.set(participant.identity, participant.id);
    this.byId.set(participant.id, { ...participant });
    this.changes++;
    return true;
  }

  remove(id: ParticipantId): boolean {
    const p = this.byId.get(id);
    if (!p) return false;
    this.byIdentity.delete(p.identity);
    this.byId.delete(id);
    this.changes++;
    return true;
  }

  find(id: ParticipantId): Participant | undefined {
    return this.byId.get(id);
  }

  findIdentity(identity: Identity): Participant | undefined {
    const id = this.byIdentity.get(identity);
    return id === undefined ? undefined : this.byId.get(id);
  }

  contains(id: ParticipantId): boolean {
    return this.byId.has(id);
  }

  get size(): number {
    return this.byId.size;
  }

  // Sorted by id.
  participants(): Participant[] {
    return [...this.byId.values()].sort((a, b) => a.id - b.id);
  }

  // Changes on every add and remove, so cached lookups know when to refresh.
  get version(): number {
    return this.changes;
  }
}
