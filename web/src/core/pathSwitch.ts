// Moving a 1:1 call's frames between the server path and a direct (peer-to-peer) path
// without losing, duplicating or reordering a durable message (docs/protocol.md,
// "Peer-to-peer"). Pure bookkeeping: the transport does the I/O.
//
// Each direct session has a sender half (DirectSendLog) and a receiver half
// (DirectReceiveLog). Only the two durable classes are tracked: lossy frames go on
// whichever path is current and are never sent twice.
//
//   server → direct  The sender sends SWITCH through the server on each durable class,
//                    then moves that class to the direct path. The receiver holds direct
//                    messages of a class until that class's SWITCH arrives, so everything
//                    sent earlier through the server is taken in first.
//   direct → server  The receiver acknowledges (ACK on the control stream) how many direct
//                    messages of each class it took in; the sender keeps the rest. When it
//                    leaves the direct path, it sends every unacknowledged message again
//                    through the server, wrapped in RESENT with its index, before anything
//                    new. The receiver takes in each index once, whichever path brings it.

import { ByteReader, ByteWriter, loadU32 } from './bytes.js';
import { fail, ok, SwitchboardError, type Result } from './errors.js';
import { decodeFrame, encodeFrame, FrameType, frameHeader, type FrameHeader } from './frame.js';
import type { ParticipantId, Priority } from './options.js';
import { Queue } from './queue.js';
import type { TrafficClass } from './trafficClass.js';

// Durable classes by index: 0 normal, 1 high priority.
export const DURABLE_CLASSES = 2;
export function durableClassIndex(priority: Priority): 0 | 1 {
  return priority === 'High' ? 1 : 0;
}
export function durableClass(index: number): TrafficClass {
  return { reliability: 'Durable', priority: index === 1 ? 'High' : 'Normal' };
}

function controlHeader(type: FrameType, session: number, priority: Priority): FrameHeader {
  return frameHeader({ type, priority, channelId: 0, sequence: session });
}

// The frames of the switch, addressed to `peer`.
export function encodeSwitchFrame(session: number, priority: Priority, peer: ParticipantId): Uint8Array {
  return encodeFrame(controlHeader(FrameType.Switch, session, priority), [peer]);
}

export function encodeResentFrame(
  session: number,
  priority: Priority,
  peer: ParticipantId,
  index: number,
  message: Uint8Array,
): Uint8Array {
  const payload = new ByteWriter(4 + message.length);
  payload.u32(index);
  payload.bytes(message);
  return encodeFrame(controlHeader(FrameType.Resent, session, priority), [peer], payload.written());
}

// A RESENT frame's payload: the index, and the direct transport message inside it.
export interface ResentPayload {
  index: number;
  message: Uint8Array;
}
// decodeFrame has checked the size (more than 4 bytes).
export function splitResentPayload(payload: Uint8Array): ResentPayload {
  return { index: loadU32(payload, 0), message: payload.subarray(4) };
}

// The receiver's acknowledgement, on the direct path's control stream (13 bytes: type 1,
// session, then the count of each durable class, big-endian).
export interface DirectAck {
  session: number;
  received: [number, number];
}
export const DIRECT_ACK_TYPE = 1;
export const DIRECT_ACK_SIZE = 13;

export function encodeDirectAck(ack: DirectAck): Uint8Array {
  const out = new ByteWriter(DIRECT_ACK_SIZE);
  out.u8(DIRECT_ACK_TYPE);
  out.u32(ack.session);
  out.u32(ack.received[0]);
  out.u32(ack.received[1]);
  return out.copy();
}

export function decodeDirectAck(bytes: Uint8Array): Result<DirectAck> {
  const r = new ByteReader(bytes);
  const type = r.u8();
  const session = r.u32();
  const normal = r.u32();
  const high = r.u32();
  if (type !== DIRECT_ACK_TYPE || session === undefined || normal === undefined || high === undefined || r.remaining !== 0) {
    return fail('INVALID_ARGUMENT', `malformed direct-path acknowledgement (${bytes.length} bytes)`);
  }
  return ok({ session, received: [normal, high] });
}

// The DATA messages a transport message completes: unfragmented durable DATA frames and
// last fragments, those inside RESENT frames included. What a lost transport message
// costs (C++ core::durable_messages_in).
export function durableMessagesIn(message: Uint8Array): number {
  let count = 0;
  let offset = 0;
  while (offset < message.length) {
    const decoded = decodeFrame(message, offset);
    if (!decoded.ok) break;
    const { frame, next } = decoded.value;
    offset = next;
    const h = frame.header;
    if (h.type === FrameType.Resent) {
      count += durableMessagesIn(splitResentPayload(frame.payload).message);
    } else if (
      h.type === FrameType.Data &&
      h.reliability === 'Durable' &&
      (!h.fragmented || h.fragmentOffset + frame.payload.length >= h.messageSize)
    ) {
      count++;
    }
  }
  return count;
}

// A frame for the server path: its class and bytes (one transport message).
export interface ClassedFrame {
  cls: TrafficClass;
  bytes: Uint8Array;
}

interface SendClass {
  acked: number; // the index of unacked's first message
  unacked: Queue<Uint8Array>;
}

// The sender's half: the durable direct messages the peer has not acknowledged yet.
export class DirectSendLog {
  private readonly classes: [SendClass, SendClass] = [
    { acked: 0, unacked: new Queue() },
    { acked: 0, unacked: new Queue() },
  ];
  private unackedSize = 0;

  constructor(readonly session: number) {}

  // A durable transport message of class `priority` went on the direct path (kept as a
  // copy).
  sent(priority: Priority, message: Uint8Array): void {
    this.classes[durableClassIndex(priority)].unacked.push(message.slice());
    this.unackedSize += message.length;
  }

  // ACKs for another session, or behind an earlier one, change nothing; one claiming more
  // than was sent is an INVALID_ARGUMENT error (returned).
  acknowledged(ack: DirectAck): SwitchboardError | undefined {
    if (ack.session !== this.session) return undefined;
    for (let i = 0; i < DURABLE_CLASSES; i++) {
      const c = this.classes[i]!;
      const received = ack.received[i]!;
      // Counts only grow, and stay below 2^32 within a session (one message each).
      if (received <= c.acked) continue;
      const sent = c.acked + c.unacked.length;
      if (received > sent) {
        return new SwitchboardError(
          'INVALID_ARGUMENT',
          `the peer acknowledged ${received} direct messages, but only ${sent} were sent`,
        );
      }
      while (c.acked < received) {
        this.unackedSize -= c.unacked.shift()!.length;
        c.acked++;
      }
    }
    return undefined;
  }

  get unackedBytes(): number {
    return this.unackedSize;
  }
  get unackedMessages(): number {
    return this.classes[0].unacked.length + this.classes[1].unacked.length;
  }

  // The unacknowledged messages as they were sent, in order per class; the log keeps them
  // (the same log serves the server path, where a resumed connection gets them again as
  // they were and the receiver's counts go on from its acknowledgement).
  unackedCopies(): ClassedFrame[] {
    const out: ClassedFrame[] = [];
    this.classes.forEach((c, i) => {
      const cls = durableClass(i);
      for (const message of c.unacked) out.push({ cls, bytes: message });
    });
    return out;
  }

  // The DATA messages whose last fragment is among the unacknowledged transport messages.
  unackedDataMessages(): number {
    let count = 0;
    for (const c of this.classes) {
      for (const message of c.unacked) count += durableMessagesIn(message);
    }
    return count;
  }

  // Leaving the direct path: a RESENT frame per unacknowledged message, in order per
  // class, each one transport message for the server path. Empties the log.
  takeResends(peer: ParticipantId): ClassedFrame[] {
    const out: ClassedFrame[] = [];
    this.classes.forEach((c, i) => {
      const cls = durableClass(i);
      let index = c.acked;
      for (const message of c.unacked) {
        out.push({ cls, bytes: encodeResentFrame(this.session, cls.priority, peer, index, message) });
        index = (index + 1) >>> 0;
      }
      c.acked = index;
      c.unacked.clear();
    });
    this.unackedSize = 0;
    return out;
  }
}

export type Verdict =
  | 'deliver' // take it in now
  | 'hold' // kept (copied) until the class's SWITCH: see onSwitch
  | 'drop'; // taken in already, through the other path

interface Held {
  index: number;
  message: Uint8Array;
}

interface ReceiveClass {
  switched: boolean; // its SWITCH arrived: no more holding
  arrived: number; // direct messages seen: the next one's index
  taken: number; // indexes below this were taken in
  held: Held[];
}

function receiveClass(): ReceiveClass {
  return { switched: false, arrived: 0, taken: 0, held: [] };
}

// The receiver's half: which direct messages of a session were taken in, and the ones
// waiting for their class's SWITCH.
export class DirectReceiveLog {
  private readonly classes: [ReceiveClass, ReceiveClass] = [receiveClass(), receiveClass()];
  private heldSize = 0;
  private acked: [number, number] = [0, 0];

  constructor(readonly session: number) {}

  private take(c: ReceiveClass, index: number): Verdict {
    if (index < c.taken) return 'drop';
    // Both paths bring indexes in order, and a RESENT run starts at or below what was
    // acknowledged, so index == taken; a gap would be the peer's bug, and skipping it
    // loses less than stalling.
    c.taken = index + 1;
    return 'deliver';
  }

  // A durable message from the direct path. Held messages wait for their SWITCH however
  // long the server path takes: it loses nothing (resumes included), so the SWITCH comes
  // unless the peer leaves, and taking them in earlier would put them ahead of what the
  // server still carries (RESENT runs of an earlier session, say). The sender's unacked
  // bound stops it, and MAX_HELD in the transport closes the direct path past that.
  onDirect(priority: Priority, message: Uint8Array): Verdict {
    const c = this.classes[durableClassIndex(priority)];
    const index = c.arrived++;
    if (!c.switched) {
      c.held.push({ index, message: message.slice() });
      this.heldSize += message.length;
      return 'hold';
    }
    return this.take(c, index);
  }

  private release(c: ReceiveClass, out: Uint8Array[]): void {
    for (const h of c.held) {
      this.heldSize -= h.message.length;
      if (this.take(c, h.index) === 'deliver') out.push(h.message);
    }
    c.held = [];
  }

  // The class's SWITCH arrived through the server. Returns the held messages that are
  // now to be taken in, in order.
  onSwitch(priority: Priority): Uint8Array[] {
    const c = this.classes[durableClassIndex(priority)];
    c.switched = true;
    const out: Uint8Array[] = [];
    this.release(c, out);
    return out;
  }

  // A RESENT message of this session arrived through the server: 'deliver' or 'drop'.
  onResent(priority: Priority, index: number): Verdict {
    return this.take(this.classes[durableClassIndex(priority)], index);
  }

  get heldBytes(): number {
    return this.heldSize;
  }

  currentAck(): DirectAck {
    return { session: this.session, received: [this.classes[0].taken, this.classes[1].taken] };
  }

  // The acknowledgement to send, when something was taken in since the last one.
  ackDue(): DirectAck | undefined {
    const ack = this.currentAck();
    if (ack.received[0] === this.acked[0] && ack.received[1] === this.acked[1]) return undefined;
    this.acked = [...ack.received];
    return ack;
  }
}
