// The signaling protocol, version 1: one JSON object per WebSocket text message
// (docs/protocol.md, "Signaling protocol, version 1"). parseSignal is a pure function from
// text to a message, throwing INVALID_ARGUMENT with the offending field's name;
// serializeSignal is its inverse. The rules are those of src/signaling/messages.cpp.

import { SwitchboardError, isErrorCode, type ErrorCode } from '../core/errors.js';

export const MAX_SIGNALING_MESSAGE_SIZE = 64 * 1024;
// What a client accepts from the server: a `joined` roster of 10,000 needs more than 64 KiB.
export const MAX_SERVER_MESSAGE_SIZE = 2 * 1024 * 1024;
const MAX_SDP_SIZE = 32 * 1024;
const MAX_CANDIDATE_SIZE = 1024;
const MAX_PARTICIPANTS = 10_000;
const MAX_ICE_SERVERS = 16;
const MAX_ICE_URLS = 16;
const MAX_REQ_SIZE = 128;
const MAX_SHORT_STRING_SIZE = 4096;
const MAX_TOKEN_SIZE = 4096;
const MAX_IDENTITY_SIZE = 128;
const MAX_CALL_ID_SIZE = 128;
const MAX_DISPLAY_NAME_SIZE = 256;
const MAX_U32 = 0xffffffff;

export interface ParticipantEntry {
  participantId: number;
  identity: string;
  displayName: string;
}

// Already in the shape of RTCIceServer.
export interface IceServerEntry {
  urls: string[];
  username?: string;
  credential?: string;
}

// Per durable class (normal, high): durable transport messages taken in on the server path.
export type DurableCounts = [number, number];

export interface ResumeRequest {
  token: string;
  received: DurableCounts;
}

export interface JoinMessage {
  type: 'join';
  req?: string;
  token: string;
  displayName?: string;
  p2p?: boolean;
  call?: string;
  // The client acknowledges durable messages and can resume (docs/protocol.md,
  // "Reconnecting and resuming"); `resume` resumes the session of an earlier `joined`.
  resumable?: boolean;
  resume?: ResumeRequest;
}
export interface LeaveMessage {
  type: 'leave';
  req?: string;
}
export interface PingMessage {
  type: 'ping';
  req?: string;
}
export interface PongMessage {
  type: 'pong';
  req?: string;
}
// `peer` names the other participant of a direct connection; `session` its direct session.
export interface OfferMessage {
  type: 'offer';
  req?: string;
  sdp: string;
  peer?: number;
  session?: number;
}
export interface AnswerMessage {
  type: 'answer';
  req?: string;
  sdp: string;
  peer?: number;
  session?: number;
}
// An a=candidate value without "a=", or "" for end-of-candidates.
export interface CandidateMessage {
  type: 'candidate';
  req?: string;
  candidate: string;
  peer?: number;
  session?: number;
}
export interface JoinedMessage extends ParticipantEntry {
  type: 'joined';
  req?: string;
  call: string;
  participants: ParticipantEntry[];
  iceServers: IceServerEntry[];
  maxMessageSize: number;
  rateLimitBytesPerSecond?: number;
  rateLimitMessagesPerSecond?: number;
  // A resumable join: the token that resumes this session, and how long the server keeps it.
  resumeToken?: string;
  resumeGraceMs?: number;
  // This join resumed a session: what the server took in from us so far.
  resumed?: boolean;
  received?: DurableCounts;
}
// Both ways between a resumable client and the server, after `joined`.
export interface AckMessage {
  type: 'ack';
  req?: string;
  received: DurableCounts;
}
export interface ParticipantJoinedMessage extends ParticipantEntry {
  type: 'participant_joined';
  req?: string;
}
export interface ParticipantLeftMessage {
  type: 'participant_left';
  req?: string;
  participantId: number;
  identity: string;
}
export interface ErrorMessage {
  type: 'error';
  req?: string;
  code: ErrorCode;
  message: string;
  // The error is about DataChannel frames we sent on this channel.
  channelId?: number;
}
export interface RedirectMessage {
  type: 'redirect';
  req?: string;
  url: string;
}
export interface DisconnectMessage {
  type: 'disconnect';
  req?: string;
  reason: string;
}
export interface P2pMessage {
  type: 'p2p';
  req?: string;
  peer: number;
  session: number;
  offer: boolean;
}
// Client to server: our direct connection of that `p2p` session failed (not one left for
// another reason), so the server may offer a new session later. Once per session.
export interface P2pFailedMessage {
  type: 'p2p_failed';
  req?: string;
  peer: number;
  session: number;
}

export type SignalMessage =
  | JoinMessage
  | LeaveMessage
  | PingMessage
  | PongMessage
  | OfferMessage
  | AnswerMessage
  | CandidateMessage
  | JoinedMessage
  | ParticipantJoinedMessage
  | ParticipantLeftMessage
  | ErrorMessage
  | RedirectMessage
  | DisconnectMessage
  | P2pMessage
  | P2pFailedMessage
  | AckMessage;

// A message to or from the other participant of a direct connection, relayed by the server.
export type PeerSignal = OfferMessage | AnswerMessage | CandidateMessage;

type JsonObject = Record<string, unknown>;

const encoder = new TextEncoder();

export function utf8Length(text: string): number {
  // Only long strings need the exact count; ASCII is the common case.
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? text.length : encoder.encode(text).length;
}

function fieldError(field: string, what: string): SwitchboardError {
  return new SwitchboardError('INVALID_ARGUMENT', `signaling message: "${field}" ${what}`);
}

function requiredString(object: JsonObject, field: string, max: number, min = 0): string {
  if (!(field in object)) throw fieldError(field, 'is missing');
  const value = object[field];
  const size = typeof value === 'string' ? utf8Length(value) : -1;
  if (size < min || size > max) throw fieldError(field, `must be a string of ${min}..${max} bytes`);
  return value as string;
}

function optionalString(object: JsonObject, field: string, max: number): string | undefined {
  return field in object ? requiredString(object, field, max) : undefined;
}

function requiredU32(object: JsonObject, field: string): number {
  if (!(field in object)) throw fieldError(field, 'is missing');
  const value = object[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_U32) {
    throw fieldError(field, 'must be an integer in 0..4294967295');
  }
  return value;
}

function optionalU32(object: JsonObject, field: string): number | undefined {
  return field in object ? requiredU32(object, field) : undefined;
}

function optionalBool(object: JsonObject, field: string): boolean | undefined {
  if (!(field in object)) return undefined;
  const value = object[field];
  if (typeof value !== 'boolean') throw fieldError(field, 'must be true or false');
  return value;
}

function requiredCounts(object: JsonObject, field: string): DurableCounts {
  if (!(field in object)) throw fieldError(field, 'is missing');
  const value = object[field];
  const valid = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_U32;
  if (!Array.isArray(value) || value.length !== 2 || !valid(value[0]) || !valid(value[1])) {
    throw fieldError(field, 'must be an array of 2 integers in 0..4294967295');
  }
  return [value[0], value[1]];
}

function optionalCounts(object: JsonObject, field: string): DurableCounts | undefined {
  return field in object ? requiredCounts(object, field) : undefined;
}

function optionalResume(object: JsonObject): ResumeRequest | undefined {
  if (!('resume' in object)) return undefined;
  const resume = object.resume;
  if (!isObject(resume)) throw fieldError('resume', 'must be an object');
  return { token: requiredString(resume, 'token', MAX_REQ_SIZE, 1), received: requiredCounts(resume, 'received') };
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseParticipant(value: unknown): ParticipantEntry {
  if (!isObject(value)) throw fieldError('participants', 'must hold objects');
  return {
    participantId: requiredU32(value, 'participantId'),
    identity: requiredString(value, 'identity', MAX_IDENTITY_SIZE, 1),
    displayName: requiredString(value, 'displayName', MAX_DISPLAY_NAME_SIZE),
  };
}

function parseIceServer(value: unknown): IceServerEntry {
  if (!isObject(value)) throw fieldError('iceServers', 'must hold objects');
  if (!('urls' in value)) throw fieldError('urls', 'is missing');
  const urls = value.urls;
  if (!Array.isArray(urls) || urls.length === 0 || urls.length > MAX_ICE_URLS) {
    throw fieldError('urls', `must be an array of 1..${MAX_ICE_URLS} strings`);
  }
  for (const url of urls) {
    if (typeof url !== 'string' || url.length === 0 || utf8Length(url) > MAX_SHORT_STRING_SIZE) {
      throw fieldError('urls', `must hold strings of 1..${MAX_SHORT_STRING_SIZE} bytes`);
    }
  }
  const server: IceServerEntry = { urls: [...(urls as string[])] };
  const username = optionalString(value, 'username', MAX_SHORT_STRING_SIZE);
  if (username !== undefined) server.username = username;
  const credential = optionalString(value, 'credential', MAX_SHORT_STRING_SIZE);
  if (credential !== undefined) server.credential = credential;
  return server;
}

function withOptional<T extends object>(message: T, fields: Record<string, unknown>): T {
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) (message as Record<string, unknown>)[key] = value;
  }
  return message;
}

function parseBody(type: string, o: JsonObject, req: string | undefined): SignalMessage {
  switch (type) {
    case 'join': {
      const token = requiredString(o, 'token', MAX_TOKEN_SIZE, 1);
      const call = optionalString(o, 'call', MAX_CALL_ID_SIZE);
      if (call === '') throw fieldError('call', `must be a string of 1..${MAX_CALL_ID_SIZE} bytes`);
      return withOptional<JoinMessage>(
        { type, token },
        {
          req,
          displayName: optionalString(o, 'displayName', MAX_DISPLAY_NAME_SIZE),
          p2p: optionalBool(o, 'p2p'),
          call,
          resumable: optionalBool(o, 'resumable'),
          resume: optionalResume(o),
        },
      );
    }
    case 'leave':
    case 'ping':
    case 'pong':
      return withOptional({ type }, { req });
    case 'offer':
    case 'answer':
      return withOptional(
        { type, sdp: requiredString(o, 'sdp', MAX_SDP_SIZE) },
        { req, peer: optionalU32(o, 'peer'), session: optionalU32(o, 'session') },
      );
    case 'candidate':
      return withOptional<CandidateMessage>(
        { type, candidate: requiredString(o, 'candidate', MAX_CANDIDATE_SIZE) },
        { req, peer: optionalU32(o, 'peer'), session: optionalU32(o, 'session') },
      );
    case 'joined': {
      const self = parseParticipant(o);
      const call = requiredString(o, 'call', MAX_CALL_ID_SIZE, 1);
      if (!('participants' in o)) throw fieldError('participants', 'is missing');
      if (!Array.isArray(o.participants) || o.participants.length > MAX_PARTICIPANTS) {
        throw fieldError('participants', `must be an array of at most ${MAX_PARTICIPANTS}`);
      }
      const participants = o.participants.map(parseParticipant);
      if (!('iceServers' in o)) throw fieldError('iceServers', 'is missing');
      if (!Array.isArray(o.iceServers) || o.iceServers.length > MAX_ICE_SERVERS) {
        throw fieldError('iceServers', `must be an array of at most ${MAX_ICE_SERVERS}`);
      }
      const iceServers = o.iceServers.map(parseIceServer);
      const resumed = optionalBool(o, 'resumed');
      const received = optionalCounts(o, 'received');
      if (resumed && !received) throw fieldError('received', 'is missing');
      return withOptional<JoinedMessage>(
        {
          type,
          ...self,
          call,
          participants,
          iceServers,
          maxMessageSize: requiredU32(o, 'maxMessageSize'),
        },
        {
          req,
          rateLimitBytesPerSecond: optionalU32(o, 'rateLimitBytesPerSecond'),
          rateLimitMessagesPerSecond: optionalU32(o, 'rateLimitMessagesPerSecond'),
          resumeToken: optionalString(o, 'resumeToken', MAX_REQ_SIZE),
          resumeGraceMs: optionalU32(o, 'resumeGraceMs'),
          resumed: resumed || undefined,
          received,
        },
      );
    }
    case 'participant_joined':
      return withOptional<ParticipantJoinedMessage>({ type, ...parseParticipant(o) }, { req });
    case 'participant_left':
      return withOptional<ParticipantLeftMessage>(
        {
          type,
          participantId: requiredU32(o, 'participantId'),
          identity: requiredString(o, 'identity', MAX_IDENTITY_SIZE, 1),
        },
        { req },
      );
    case 'error': {
      const code = requiredString(o, 'code', MAX_REQ_SIZE, 1);
      if (!isErrorCode(code)) {
        throw fieldError('code', 'is not an error code (INVALID_ARGUMENT, UNAUTHORIZED, ...)');
      }
      return withOptional<ErrorMessage>(
        { type, code, message: requiredString(o, 'message', MAX_SHORT_STRING_SIZE) },
        { req, channelId: optionalU32(o, 'channelId') },
      );
    }
    case 'redirect':
      return withOptional<RedirectMessage>(
        { type, url: requiredString(o, 'url', MAX_SHORT_STRING_SIZE, 1) },
        { req },
      );
    case 'disconnect':
      return withOptional<DisconnectMessage>(
        { type, reason: requiredString(o, 'reason', MAX_SHORT_STRING_SIZE) },
        { req },
      );
    case 'p2p': {
      const peer = requiredU32(o, 'peer');
      if (peer === 0) throw fieldError('peer', 'must be a participant id (nonzero)');
      return withOptional<P2pMessage>(
        { type, peer, session: requiredU32(o, 'session'), offer: optionalBool(o, 'offer') ?? false },
        { req },
      );
    }
    case 'p2p_failed': {
      const peer = requiredU32(o, 'peer');
      if (peer === 0) throw fieldError('peer', 'must be a participant id (nonzero)');
      return withOptional<P2pFailedMessage>({ type, peer, session: requiredU32(o, 'session') }, { req });
    }
    case 'ack':
      return withOptional<AckMessage>({ type, received: requiredCounts(o, 'received') }, { req });
    default:
      throw fieldError('type', 'is not a known message type');
  }
}

// One message. `maxSize` in bytes: MAX_SERVER_MESSAGE_SIZE for what the server sends.
export function parseSignal(text: string, maxSize = MAX_SIGNALING_MESSAGE_SIZE): SignalMessage {
  // UTF-16 length ≤ UTF-8 length ≤ 3 × UTF-16 length: count bytes only when it matters.
  if (text.length > maxSize || (text.length * 3 > maxSize && utf8Length(text) > maxSize)) {
    throw new SwitchboardError('INVALID_ARGUMENT', `signaling message: longer than ${maxSize} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SwitchboardError('INVALID_ARGUMENT', 'signaling message: not valid JSON');
  }
  if (!isObject(value)) {
    throw new SwitchboardError('INVALID_ARGUMENT', 'signaling message: not a JSON object');
  }
  const type = requiredString(value, 'type', MAX_REQ_SIZE, 1);
  const req = optionalString(value, 'req', MAX_REQ_SIZE);
  return parseBody(type, value, req);
}

// Field order: type, req, then the message's own fields (as the C++ serializer writes).
export function serializeSignal(message: SignalMessage): string {
  const { type, req, ...body } = message;
  const out: Record<string, unknown> = { type };
  if (req !== undefined) out.req = req;
  for (const [key, value] of Object.entries(body)) {
    if (value !== undefined) out[key] = value;
  }
  return JSON.stringify(out);
}

export function isPeerSignal(message: SignalMessage): message is PeerSignal {
  return message.type === 'offer' || message.type === 'answer' || message.type === 'candidate';
}
