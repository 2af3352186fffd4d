// A whole call in one process: endpoints joined to it exchange frames through the same
// routing rules the server applies (recipient lists, sender stamping), with no network.
// For tests of the rules end to end.

import { ByteWriter } from './bytes.js';
import { decodeFrame } from './frame.js';
import { DataChannelEndpoint, type EndpointConfig } from './endpoint.js';
import type { Identity, ParticipantId } from './options.js';
import { Roster } from './roster.js';
import { restampFrame, routeFrame } from './routing.js';

export class LocalCall {
  private readonly roster = new Roster();
  private readonly endpoints: DataChannelEndpoint[] = [];
  private nextId = 1;
  private rejected = 0;

  constructor(private readonly config: Partial<EndpointConfig> = {}) {}

  join(identity: Identity, now: number): DataChannelEndpoint {
    const id = this.nextId++;
    const seed = this.config.seed ? this.config.seed + id : 0;
    const endpoint = new DataChannelEndpoint(id, { ...this.config, seed });
    const me = { id, identity, displayName: identity };
    for (const other of this.endpoints) {
      other.participantJoined(me, now);
      endpoint.participantJoined(other.roster.find(other.self)!, now);
    }
    endpoint.participantJoined(me, now);
    this.roster.add(me);
    this.endpoints.push(endpoint);
    return endpoint;
  }

  leave(endpoint: DataChannelEndpoint): void {
    const id = endpoint.self;
    this.roster.remove(id);
    const at = this.endpoints.indexOf(endpoint);
    if (at >= 0) this.endpoints.splice(at, 1);
    for (const other of this.endpoints) other.participantLeft(id);
  }

  private find(id: ParticipantId): DataChannelEndpoint | undefined {
    return this.endpoints.find((e) => e.self === id);
  }

  // Moves frames until no endpoint has anything left to send at `now`. Returns the
  // number of transport messages moved.
  pump(now: number): number {
    let moved = 0;
    for (let progress = true; progress; ) {
      progress = false;
      for (const endpoint of [...this.endpoints]) {
        const message = endpoint.poll(now, 64 * 1024);
        if (!message) continue;
        this.relay(endpoint, message.bytes, now);
        progress = true;
        moved++;
      }
    }
    return moved;
  }

  // Routes one transport message as if `from` had sent it, as the server does.
  relay(from: DataChannelEndpoint, batch: Uint8Array, now: number): void {
    for (let offset = 0; offset < batch.length; ) {
      const decoded = decodeFrame(batch, offset);
      if (!decoded.ok || (decoded.value.frame.header.from !== undefined && decoded.value.frame.header.from !== from.self)) {
        this.rejected++;
        return;
      }
      const { frame, next } = decoded.value;
      offset = next;
      const stamped = new ByteWriter();
      restampFrame(frame, from.self, stamped);
      const bytes = stamped.copy();
      for (const id of routeFrame(this.roster, from.self, frame.to)) this.find(id)?.ingest(bytes, now);
    }
  }

  // Frames the router refused (malformed, or claiming another sender).
  get rejectedFrames(): number {
    return this.rejected;
  }
}
