// The channel ids of one participant's open senders.

import { SwitchboardError } from './errors.js';
import { FIRST_ALLOCATED_CHANNEL_ID, MAX_CHANNEL_ID } from './options.js';
import { Random } from './random.js';

export class ChannelIdAllocator {
  private readonly used = new Uint8Array(MAX_CHANNEL_ID + 1);
  private readonly random: Random;

  constructor(seed = 0) {
    this.random = new Random(seed);
  }

  // `requested` 1..65535 is taken as is (the caller closes a sender already on it);
  // 0 picks a free id at random from 1024..65535, as ACS does. Throws SwitchboardError.
  acquire(requested: number): number {
    if (!Number.isInteger(requested) || requested < 0 || requested > MAX_CHANNEL_ID) {
      throw new SwitchboardError('INVALID_CHANNEL_ID', `channel id ${requested} is outside 1..65535`);
    }
    if (requested !== 0) {
      this.used[requested] = 1;
      return requested;
    }
    // Random probes find a free id quickly while few are taken; a scan from a random
    // start settles the crowded case and proves exhaustion.
    for (let attempt = 0; attempt < 32; attempt++) {
      const id = this.random.int(FIRST_ALLOCATED_CHANNEL_ID, MAX_CHANNEL_ID);
      if (!this.used[id]) {
        this.used[id] = 1;
        return id;
      }
    }
    const span = MAX_CHANNEL_ID - FIRST_ALLOCATED_CHANNEL_ID + 1;
    const start = this.random.int(0, span - 1);
    for (let i = 0; i < span; i++) {
      const id = FIRST_ALLOCATED_CHANNEL_ID + ((start + i) % span);
      if (!this.used[id]) {
        this.used[id] = 1;
        return id;
      }
    }
    throw new SwitchboardError('NO_AVAILABLE_CHANNEL_ID', 'every channel id in 1024..65535 is in use');
  }

  release(id: number): void {
    this.used[id] = 0;
  }

  inUse(id: number): boolean {
    return this.used[id] === 1;
  }
}
