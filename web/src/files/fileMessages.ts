// The messages of the file-transfer convention on channel 10001 (docs/protocol.md,
// "Applications on DataChannels: chat and file transfer"): a one-byte kind, then JSON or,
// for CHUNK, 16 bytes of transfer id, a u64 big-endian offset and the file's bytes.
// Pure functions: bytes in, a value or an error string out.

export const CHAT_CHANNEL = 10000;
export const FILE_CHANNEL = 10001;
// The most file bytes in one CHUNK.
export const MAX_CHUNK_SIZE = 64 * 1024;
export const MAX_OFFER_JSON = 4096;
// A receiver reports PROGRESS at least this often, and at the end.
export const PROGRESS_INTERVAL = 1024 * 1024;

const KIND = { offer: 0x01, accept: 0x02, chunk: 0x03, done: 0x04, progress: 0x05, cancel: 0x06 } as const;
const CHUNK_HEADER = 1 + 16 + 8;

export const CANCEL_CODES = ['DECLINED', 'HASH_MISMATCH', 'CANCELLED', 'IO_ERROR'] as const;
export type CancelCode = (typeof CANCEL_CODES)[number];

export interface FileOffer {
  id: string; // 32 lowercase hex digits
  name: string;
  size: number;
  sha256: string; // 64 lowercase hex digits
  mime?: string;
}

export type FileMessage =
  | { kind: 'offer'; offer: FileOffer }
  | { kind: 'accept'; id: string; offset: number }
  | { kind: 'chunk'; id: string; offset: number; data: Uint8Array }
  | { kind: 'done'; id: string }
  | { kind: 'progress'; id: string; offset: number }
  | { kind: 'cancel'; id: string; code: CancelCode; message: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

const isId = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{32}$/.test(v);
const isOffset = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function withKind(kind: number, json: unknown): Uint8Array {
  const body = encoder.encode(JSON.stringify(json));
  const out = new Uint8Array(1 + body.length);
  out[0] = kind;
  out.set(body, 1);
  return out;
}

export function encodeFileMessage(message: FileMessage): Uint8Array {
  switch (message.kind) {
    case 'offer': {
      const { id, name, size, sha256, mime } = message.offer;
      return withKind(KIND.offer, mime ? { id, name, size, sha256, mime } : { id, name, size, sha256 });
    }
    case 'accept':
      return withKind(KIND.accept, { id: message.id, offset: message.offset });
    case 'done':
      return withKind(KIND.done, { id: message.id });
    case 'progress':
      return withKind(KIND.progress, { id: message.id, offset: message.offset });
    case 'cancel':
      return withKind(KIND.cancel, { id: message.id, code: message.code, message: message.message });
    case 'chunk': {
      const out = new Uint8Array(CHUNK_HEADER + message.data.length);
      out[0] = KIND.chunk;
      out.set(hexToBytes(message.id), 1);
      const view = new DataView(out.buffer);
      view.setUint32(17, Math.floor(message.offset / 0x100000000));
      view.setUint32(21, message.offset >>> 0);
      out.set(message.data, CHUNK_HEADER);
      return out;
    }
  }
}

// The message, or why it is not one. A CHUNK's data is a view into `bytes`.
export function decodeFileMessage(bytes: Uint8Array): FileMessage | { error: string } {
  if (bytes.length === 0) return { error: 'empty message' };
  const kind = bytes[0];
  if (kind === KIND.chunk) {
    if (bytes.length < CHUNK_HEADER) return { error: 'CHUNK shorter than its header' };
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const high = view.getUint32(17);
    if (high >= 0x200000) return { error: 'CHUNK offset beyond 2^53' };
    const data = bytes.subarray(CHUNK_HEADER);
    if (data.length > MAX_CHUNK_SIZE) return { error: 'CHUNK over 64 KiB' };
    return { kind: 'chunk', id: bytesToHex(bytes.subarray(1, 17)), offset: high * 0x100000000 + view.getUint32(21), data };
  }
  if (kind === KIND.offer && bytes.length - 1 > MAX_OFFER_JSON) return { error: 'OFFER over 4 KiB' };
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes.subarray(1)));
  } catch {
    return { error: 'not UTF-8 JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { error: 'not a JSON object' };
  const o = json as Record<string, unknown>;
  if (!isId(o.id)) return { error: '"id" is not 32 lowercase hex digits' };
  const id = o.id;
  switch (kind) {
    case KIND.offer: {
      if (typeof o.name !== 'string') return { error: 'OFFER without a "name"' };
      if (!isOffset(o.size)) return { error: 'OFFER "size" is not a non-negative integer' };
      if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)) {
        return { error: 'OFFER "sha256" is not 64 lowercase hex digits' };
      }
      const offer: FileOffer = { id, name: o.name, size: o.size, sha256: o.sha256 };
      if (typeof o.mime === 'string' && o.mime !== '') offer.mime = o.mime;
      return { kind: 'offer', offer };
    }
    case KIND.accept:
    case KIND.progress:
      if (!isOffset(o.offset)) return { error: '"offset" is not a non-negative integer' };
      return { kind: kind === KIND.accept ? 'accept' : 'progress', id, offset: o.offset };
    case KIND.done:
      return { kind: 'done', id };
    case KIND.cancel: {
      const code = (CANCEL_CODES as readonly unknown[]).includes(o.code) ? (o.code as CancelCode) : 'CANCELLED';
      return { kind: 'cancel', id, code, message: typeof o.message === 'string' ? o.message : '' };
    }
    default:
      return { error: `unknown kind 0x${(kind ?? 0).toString(16).padStart(2, '0')}` };
  }
}

// What a receiver keeps of an offered name: its last path component without control
// characters, '/', '\' or leading dots; undefined when nothing is left.
export function sanitizeFileName(name: string): string | undefined {
  const last = name.split(/[/\\]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = last.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').replace(/^\.+/, '');
  return clean === '' ? undefined : clean;
}

export function newTransferId(): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
}

function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; ++i) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
