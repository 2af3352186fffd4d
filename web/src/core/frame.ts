// The DataChannel wire frame, version 1. Byte layout: docs/protocol.md, "DataChannel
// frames". Several frames may follow each other in one transport message (coalescing).
// Byte for byte the same as the C++ codec (src/core/frame.cpp).

import { ByteReader, ByteWriter } from './bytes.js';
import { fail, ok, type Result, type SwitchboardError } from './errors.js';
import {
  LARGEST_MAX_MESSAGE_SIZE,
  MAX_RECIPIENTS,
  NO_PARTICIPANT,
  type ParticipantId,
  type Priority,
  type Reliability,
} from './options.js';

export const FRAME_VERSION = 1;
export const FRAME_HEADER_SIZE = 14;
export const FRAGMENT_FIELDS_SIZE = 8;

export const FrameType = {
  Data: 1, // a message, or one fragment of it
  Close: 2, // the sender closed; sequence = its last sequence number
  // Peer-to-peer path control (docs/protocol.md, "Peer-to-peer"): channel 0, durable
  // class, sequence = the direct session.
  Switch: 3, // through the server: this class's frames go direct from here on
  Resent: 4, // through the server: a direct transport message sent again
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

// Path-control frames (Switch, Resent) carry channel 0; every other frame a channel id.
export function isPathControl(type: FrameType): boolean {
  return type === FrameType.Switch || type === FrameType.Resent;
}

export const FrameFlags = {
  Lossy: 0x01,
  High: 0x02,
  Fragment: 0x04,
  From: 0x08,
  To: 0x10,
  Known: 0x1f,
} as const;

export interface FrameHeader {
  type: FrameType;
  reliability: Reliability;
  priority: Priority;
  channelId: number;
  sequence: number;
  // Set when the message is split: the whole message's size and this piece's offset.
  fragmented: boolean;
  messageSize: number;
  fragmentOffset: number;
  // Stamped by whoever forwards the frame (the server, or the peer in 1:1 calls).
  from?: ParticipantId;
}

export interface DecodedFrame {
  header: FrameHeader;
  to: ParticipantId[]; // empty = everyone
  payload: Uint8Array; // a view into the decoded buffer
}

// A DATA header with every field at its default; override what differs.
export function frameHeader(fields: Partial<FrameHeader> = {}): FrameHeader {
  return {
    type: FrameType.Data,
    reliability: 'Durable',
    priority: 'Normal',
    channelId: 0,
    sequence: 0,
    fragmented: false,
    messageSize: 0,
    fragmentOffset: 0,
    ...fields,
  };
}

export function encodedFrameSize(header: FrameHeader, recipients: number, payload: number): number {
  let size = FRAME_HEADER_SIZE + payload;
  if (header.fragmented) size += FRAGMENT_FIELDS_SIZE;
  if (header.from !== undefined) size += 4;
  if (recipients > 0) size += 2 + 4 * recipients;
  return size;
}

// Appends one encoded frame. `to` empty = no recipient list (everyone).
export function writeFrame(
  out: ByteWriter,
  header: FrameHeader,
  to: readonly ParticipantId[],
  payload: Uint8Array,
): void {
  let flags = 0;
  if (header.reliability === 'Lossy') flags |= FrameFlags.Lossy;
  if (header.priority === 'High') flags |= FrameFlags.High;
  if (header.fragmented) flags |= FrameFlags.Fragment;
  if (header.from !== undefined) flags |= FrameFlags.From;
  if (to.length > 0) flags |= FrameFlags.To;

  out.reserve(encodedFrameSize(header, to.length, payload.length));
  out.u8(FRAME_VERSION);
  out.u8(header.type);
  out.u8(flags);
  out.u8(0);
  out.u16(header.channelId);
  out.u32(header.sequence);
  out.u32(payload.length);
  if (header.fragmented) {
    out.u32(header.messageSize);
    out.u32(header.fragmentOffset);
  }
  if (header.from !== undefined) out.u32(header.from);
  if (to.length > 0) {
    out.u16(to.length);
    for (const id of to) out.u32(id);
  }
  out.bytes(payload);
}

export function encodeFrame(
  header: FrameHeader,
  to: readonly ParticipantId[] = [],
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new ByteWriter(encodedFrameSize(header, to.length, payload.length));
  writeFrame(out, header, to, payload);
  return out.copy();
}

export interface FrameAt {
  frame: DecodedFrame;
  next: number; // offset just past the frame
}

function malformed<T>(what: string): Result<T> {
  return fail('INVALID_ARGUMENT', `malformed frame: ${what}`);
}

// Decodes the frame at `offset`. Every field is bounds-checked; malformed input yields an
// error and never reads out of range.
export function decodeFrame(input: Uint8Array, offset = 0): Result<FrameAt> {
  const r = new ByteReader(input, offset);
  const version = r.u8();
  const type = r.u8();
  const flags = r.u8();
  const reserved = r.u8();
  const channelId = r.u16();
  const sequence = r.u32();
  const payloadSize = r.u32();
  if (
    version === undefined ||
    type === undefined ||
    flags === undefined ||
    reserved === undefined ||
    channelId === undefined ||
    sequence === undefined ||
    payloadSize === undefined
  ) {
    return malformed('truncated header');
  }
  if (version !== FRAME_VERSION) return malformed(`unsupported version ${version}`);
  if (type < FrameType.Data || type > FrameType.Resent) return malformed(`unknown type ${type}`);
  if ((flags & ~FrameFlags.Known) !== 0 || reserved !== 0) return malformed('unknown flags');
  const frameType = type as FrameType;
  if (isPathControl(frameType)) {
    if (channelId !== 0) return malformed(`path-control frame on channel ${channelId}`);
    if ((flags & (FrameFlags.Lossy | FrameFlags.Fragment)) !== 0) {
      return malformed('path-control frame marked lossy or fragmented');
    }
  } else if (channelId === 0) {
    return fail('INVALID_CHANNEL_ID', 'malformed frame: channel id 0 is not valid');
  }
  const header = frameHeader({
    type: frameType,
    reliability: (flags & FrameFlags.Lossy) !== 0 ? 'Lossy' : 'Durable',
    priority: (flags & FrameFlags.High) !== 0 ? 'High' : 'Normal',
    channelId,
    sequence,
    fragmented: (flags & FrameFlags.Fragment) !== 0,
  });

  if (header.fragmented) {
    const messageSize = r.u32();
    const fragmentOffset = r.u32();
    if (messageSize === undefined || fragmentOffset === undefined) return malformed('truncated fragment');
    header.messageSize = messageSize;
    header.fragmentOffset = fragmentOffset;
  } else {
    header.messageSize = payloadSize;
  }
  if ((flags & FrameFlags.From) !== 0) {
    const from = r.u32();
    if (from === undefined) return malformed('truncated sender');
    if (from === NO_PARTICIPANT) return malformed('sender 0');
    header.from = from;
  }
  const to: ParticipantId[] = [];
  if ((flags & FrameFlags.To) !== 0) {
    const count = r.u16();
    if (count === undefined) return malformed('truncated recipient count');
    if (count === 0) return malformed('empty recipient list');
    if (count > MAX_RECIPIENTS) {
      return fail(
        'TOO_MANY_PARTICIPANTS',
        `frame lists ${count} recipients; at most ${MAX_RECIPIENTS} are allowed`,
      );
    }
    if (r.remaining < count * 4) return malformed('truncated recipient list');
    for (let i = 0; i < count; i++) to.push(r.u32()!);
  }
  const payload = r.bytes(payloadSize);
  if (payload === undefined) return malformed('truncated payload');

  if (frameType === FrameType.Close || frameType === FrameType.Switch) {
    if (payloadSize !== 0 || header.fragmented) return malformed('close or switch frame with payload');
  } else if (frameType === FrameType.Resent) {
    if (payloadSize <= 4) return malformed('resent frame without a message');
  } else {
    if (payloadSize === 0) return fail('MESSAGE_EMPTY', 'malformed frame: empty payload');
    if (header.messageSize > LARGEST_MAX_MESSAGE_SIZE) {
      return fail(
        'MESSAGE_TOO_LARGE',
        `malformed frame: message of ${header.messageSize} bytes exceeds 16 MiB`,
      );
    }
    if (header.fragmented && header.fragmentOffset + payloadSize > header.messageSize) {
      return malformed('fragment beyond message end');
    }
  }
  return ok({ frame: { header, to, payload }, next: r.position });
}

// Decodes every frame of one transport message. A malformed frame rejects the rest of it:
// the frames before it are returned along with the error.
export function decodeFrames(input: Uint8Array): { frames: DecodedFrame[]; error?: SwitchboardError } {
  const frames: DecodedFrame[] = [];
  let offset = 0;
  while (offset < input.length) {
    const decoded = decodeFrame(input, offset);
    if (!decoded.ok) return { frames, error: decoded.error };
    frames.push(decoded.value.frame);
    offset = decoded.value.next;
  }
  return { frames };
}
