// Decides which sender's frame leaves next: High before Normal; within a priority,
// deficit round robin by bytes, so channels share fairly and a large message, cut into
// fragments, never holds up another channel. Paced senders wait for their token bucket.

import type { ByteWriter } from './bytes.js';
import type { SenderChannel } from './senderChannel.js';
import type { TrafficClass } from './trafficClass.js';

interface Flow {
  sender: SenderChannel;
  deficit: number;
}

export class FrameScheduler {
  private readonly rings: [Flow[], Flow[]] = [[], []]; // [0] High, [1] Normal

  constructor(private readonly quantum: number) {}

  add(sender: SenderChannel): void {
    this.rings[sender.priority === 'High' ? 0 : 1].push({ sender, deficit: 0 });
  }

  // Every sender still scheduled (closed ones that have not finished included).
  senders(): SenderChannel[] {
    return [...this.rings[0], ...this.rings[1]].map((flow) => flow.sender);
  }

  // Appends the next frame to `out` and returns its class; undefined when no sender may
  // send now (see nextWakeup).
  next(now: number, out: ByteWriter): TrafficClass | undefined {
    for (const ring of this.rings) {
      const cls = this.nextIn(ring, now, out);
      if (cls) return cls;
    }
    return undefined;
  }

  private nextIn(ring: Flow[], now: number, out: ByteWriter): TrafficClass | undefined {
    // Each pass either sends, drops a finished flow, or rotates; one full rotation
    // without a frame means nothing in this ring can go now.
    for (let visited = 0; visited <= ring.length && ring.length > 0; ) {
      const flow = ring[0]!;
      const s = flow.sender;
      if (s.finished) {
        ring.shift();
        continue;
      }
      if (!s.hasFrame() || !s.pacedReady(now)) {
        flow.deficit = 0; // an idle flow does not bank credit
        ring.push(ring.shift()!);
        visited++;
        continue;
      }
      const cost = s.nextFrameCost();
      if (flow.deficit < cost) flow.deficit += this.quantum;
      flow.deficit -= cost;
      const before = out.length;
      const cls = s.writeNextFrame(out);
      // The flow keeps the turn while its credit covers its next frame.
      if (s.finished || !s.hasFrame() || flow.deficit < s.nextFrameCost()) {
        if (!s.hasFrame()) flow.deficit = 0;
        ring.push(ring.shift()!);
      }
      if (out.length !== before) return cls;
      // A close with nobody to notify writes nothing; look further.
    }
    return undefined;
  }

  // The earliest time a paced sender with queued data may send again.
  nextWakeup(now: number): number | undefined {
    let earliest: number | undefined;
    for (const ring of this.rings) {
      for (const flow of ring) {
        if (!flow.sender.hasFrame()) continue;
        const at = flow.sender.pacedReadyAt(now);
        if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
      }
    }
    return earliest;
  }

  get idle(): boolean {
    return this.rings.every((ring) => ring.every((flow) => !flow.sender.hasFrame()));
  }
}
