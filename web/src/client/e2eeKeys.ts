// E2eeKeys: the keys of end-to-end encryption, from a key file's text, from raw bytes or
// from a passphrase, exactly as the C++ SDK reads them (include/switchboard/e2ee.hpp,
// src/client/e2ee_keys.cpp; docs/protocol.md, "Keys and key files"):
//
//   const keys = await E2eeKeys.parse('2:passphrase:correct horse battery staple', 'call-1');
//   const call = await new CallClient().join({ server, callId: 'call-1', token, e2ee: keys });
//
// Key file text: one key per line, `KEYID:BASE64` (32 random bytes, standard padded
// base64, e.g. `openssl rand -base64 32`) or `KEYID:passphrase:TEXT` (stretched with
// PBKDF2-HMAC-SHA256, 600,000 iterations, salt "switchboard-e2ee-v1|" + call id). KEYID is
// a decimal number 0..4294967295. Lines are trimmed of spaces, tabs and CR; blank lines and
// lines starting with '#' are ignored. The highest key id seals, every listed id opens.

import { SwitchboardError } from '../core/errors.js';

export const E2EE_KEY_SIZE = 32;
// What sealing adds to every message: version (1), key id (4), nonce (12), GCM tag (16).
export const E2EE_OVERHEAD = 33;
export const E2EE_PASSPHRASE_ITERATIONS = 600_000;

const PASSPHRASE_SALT = 'switchboard-e2ee-v1|';
const PASSPHRASE_PREFIX = 'passphrase:';
const MAX_KEY_ID = 0xffffffff;

export interface E2eeKey {
  // 0..4294967295
  readonly id: number;
  // 32 bytes
  readonly key: Uint8Array;
}

type Subtle = typeof globalThis.crypto.subtle;

// WebCrypto, or a SwitchboardError saying why there is none.
export function subtleCrypto(): Subtle {
  const subtle = (globalThis as { crypto?: { subtle?: Subtle } }).crypto?.subtle;
  if (!subtle) {
    throw new SwitchboardError(
      'INTERNAL',
      'end-to-end encryption needs WebCrypto (crypto.subtle), which browsers offer only to secure pages (https:// or http://localhost)',
    );
  }
  return subtle;
}

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('INVALID_ARGUMENT', message);
}

function trim(s: string): string {
  return s.replace(/^[ \t\r]+/, '').replace(/[ \t\r]+$/, '');
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

// RFC 4648 section 4, padded, nothing else (no whitespace, no URL alphabet), and the unused
// bits of the last group zero, so each key has one spelling (as e2ee_keys.cpp).
function base64Decode(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const out: number[] = [];
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    const pad = last ? (text.slice(i + 2).match(/=/g) ?? []).length : 0;
    if (pad > 2) return undefined;
    let group = 0;
    for (let j = 0; j < 4; j++) {
      const c = text[i + j]!;
      let v = 0;
      if (j >= 4 - pad) {
        if (c !== '=') return undefined;
      } else if ((v = BASE64.indexOf(c)) < 0) {
        return undefined;
      }
      group = (group << 6) | v;
    }
    out.push((group >> 16) & 0xff);
    if (pad < 2) out.push((group >> 8) & 0xff);
    if (pad < 1) out.push(group & 0xff);
    if ((pad === 1 && (group & 0xff) !== 0) || (pad === 2 && (group & 0xffff) !== 0)) return undefined;
  }
  return new Uint8Array(out);
}

function parseKeyId(text: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(text)) return undefined;
  const value = Number(text);
  return value <= MAX_KEY_ID ? value : undefined;
}

function isKeyId(id: unknown): id is number {
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= MAX_KEY_ID;
}

export class E2eeKeys {
  private readonly list: readonly E2eeKey[];
  private readonly derivedFor: string;

  private constructor(keys: E2eeKey[], callId: string) {
    this.list = Object.freeze(keys);
    this.derivedFor = callId;
  }

  // Keys given directly; usable in any call. Throws SwitchboardError (INVALID_ARGUMENT)
  // when there is none, an id is not 0..4294967295, a key is not 32 bytes or an id repeats.
  static fromKeys(keys: readonly E2eeKey[]): E2eeKeys {
    if (!Array.isArray(keys) || keys.length === 0) throw invalid('end-to-end encryption needs at least one key');
    const copies: E2eeKey[] = [];
    for (const k of keys) {
      if (!isKeyId(k?.id)) throw invalid('a key id is a whole number 0..4294967295');
      if (!(k.key instanceof Uint8Array) || k.key.length !== E2EE_KEY_SIZE) {
        throw invalid(`key ${k.id} is not ${E2EE_KEY_SIZE} bytes (a Uint8Array of 32 random bytes)`);
      }
      copies.push(Object.freeze({ id: k.id, key: k.key.slice() }));
    }
    copies.sort((a, b) => a.id - b.id);
    for (let i = 1; i < copies.length; i++) {
      if (copies[i]!.id === copies[i - 1]!.id) throw invalid(`key id ${copies[i]!.id} is given twice`);
    }
    return new E2eeKeys(copies, '');
  }

  // PBKDF2-HMAC-SHA256(passphrase as UTF-8, "switchboard-e2ee-v1|" + callId, 600,000
  // iterations, 32 bytes): slow on purpose (a few hundred milliseconds).
  static async deriveKey(id: number, passphrase: string, callId: string): Promise<E2eeKey> {
    if (!isKeyId(id)) throw invalid('a key id is a whole number 0..4294967295');
    const subtle = subtleCrypto();
    const utf8 = new TextEncoder();
    const material = await subtle.importKey('raw', utf8.encode(passphrase), 'PBKDF2', false, ['deriveBits']);
    const bits = await subtle.deriveBits(
      { name: 'PBKDF2', hash: 'SHA-256', salt: utf8.encode(PASSPHRASE_SALT + callId), iterations: E2EE_PASSPHRASE_ITERATIONS },
      material,
      E2EE_KEY_SIZE * 8,
    );
    return { id, key: new Uint8Array(bits) };
  }

  // Reads a key file's text (format above). Passphrases are stretched for `callId`, which
  // join() then requires. Rejects with SwitchboardError (INVALID_ARGUMENT) naming the line:
  // a malformed line, a key that is not 32 bytes, a repeated key id, no key at all.
  static async parse(text: string, callId: string): Promise<E2eeKeys> {
    if (typeof text !== 'string') throw invalid('the key file text must be a string');
    const keys: E2eeKey[] = [];
    const lines: number[] = []; // of each key, for the duplicate message
    let derived = false;
    const all = text.split('\n');
    for (let n = 0; n < all.length; n++) {
      const line = trim(all[n]!);
      const where = `line ${n + 1}: `;
      if (line === '' || line.startsWith('#')) continue;
      const colon = line.indexOf(':');
      if (colon < 0) throw invalid(`${where}expected KEYID:BASE64 or KEYID:passphrase:TEXT`);
      const id = parseKeyId(line.slice(0, colon));
      if (id === undefined) throw invalid(`${where}the key id must be a decimal number 0..4294967295`);
      const value = line.slice(colon + 1);
      let key: E2eeKey;
      if (value.startsWith(PASSPHRASE_PREFIX)) {
        const passphrase = value.slice(PASSPHRASE_PREFIX.length);
        if (passphrase === '') throw invalid(`${where}the passphrase is empty`);
        key = await E2eeKeys.deriveKey(id, passphrase, callId);
        derived = true;
      } else {
        const bytes = base64Decode(value);
        if (!bytes) throw invalid(`${where}the key is not padded standard base64 (make one with \`openssl rand -base64 32\`)`);
        if (bytes.length !== E2EE_KEY_SIZE) {
          throw invalid(`${where}the key is ${bytes.length} bytes; it must be 32 (\`openssl rand -base64 32\`)`);
        }
        key = { id, key: bytes };
      }
      const earlier = keys.findIndex((k) => k.id === id);
      if (earlier >= 0) throw invalid(`${where}key id ${id} is already on line ${lines[earlier]}`);
      keys.push(key);
      lines.push(n + 1);
    }
    if (keys.length === 0) throw invalid('no key: expected lines KEYID:BASE64 or KEYID:passphrase:TEXT');
    const result = E2eeKeys.fromKeys(keys);
    return derived ? new E2eeKeys([...result.list], callId) : result;
  }

  // The key that seals: the highest id.
  get sealingKey(): E2eeKey {
    return this.list[this.list.length - 1]!;
  }
  // Ascending by id; never empty.
  get keys(): readonly E2eeKey[] {
    return this.list;
  }
  find(id: number): E2eeKey | undefined {
    return this.list.find((k) => k.id === id);
  }
  // The call the passphrase keys were derived for; empty when no key depends on the call.
  get callId(): string {
    return this.derivedFor;
  }
}
