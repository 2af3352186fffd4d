// End-to-end encryption of whole DataChannel messages with AES-256-GCM (WebCrypto), byte
// for byte as the C++ SDK's src/client/e2ee_cipher.cpp. Layout, associated data and
// nonces: docs/protocol.md, "End-to-end encryption".
//
//   sealed = u8 version 0x01 | u32 key id | 12-byte nonce | ciphertext | 16-byte tag
//   AAD    = "switchboard-e2ee-v1" | u8 version | u32 key id | u16 len + call id
//            | u16 channel id | u32 sequence number | u16 len + sender identity
//   nonce  = 8 random bytes per sealing context | u32 counter

import { ByteWriter, loadU32 } from '../core/bytes.js';
import { SwitchboardError } from '../core/errors.js';
import type { Identity } from '../core/options.js';
import type { PayloadCipher } from '../core/payloadCipher.js';
import { E2EE_OVERHEAD, subtleCrypto, type E2eeKey, type E2eeKeys } from './e2eeKeys.js';

export const E2EE_VERSION = 1;
export const E2EE_NONCE_SIZE = 12;
export const E2EE_TAG_SIZE = 16;
const HEADER_SIZE = 1 + 4 + E2EE_NONCE_SIZE;
const LABEL = 'switchboard-e2ee-v1';
const COUNTER_LIMIT = 2 ** 32;

// What a sealed message is bound to besides its key.
export interface SealBinding {
  callId: string;
  channelId: number;
  sequence: number;
  sender: Identity; // the sender's identity
}

type AesKey = Awaited<ReturnType<typeof globalThis.crypto.subtle.importKey>>;

const utf8 = new TextEncoder();
// Imported once per key (E2eeKeys hands out frozen key objects).
const imported = new WeakMap<E2eeKey, Promise<AesKey>>();

function aesKey(key: E2eeKey): Promise<AesKey> {
  let promise = imported.get(key);
  if (!promise) {
    promise = subtleCrypto().importKey('raw', owned(key.key), 'AES-GCM', false, ['encrypt', 'decrypt']);
    imported.set(key, promise);
  }
  return promise;
}

// WebCrypto takes views of plain ArrayBuffers only.
function owned(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

function failed(why: string): SwitchboardError {
  return new SwitchboardError('DECRYPTION_FAILED', why);
}

function putString16(out: ByteWriter, s: string, what: string): void {
  const bytes = utf8.encode(s);
  if (bytes.length > 0xffff) throw new SwitchboardError('INVALID_ARGUMENT', `the ${what} is longer than 65535 bytes`);
  out.u16(bytes.length);
  out.bytes(bytes);
}

// The associated data of a message sealed with `keyId`. Throws SwitchboardError
// (INVALID_ARGUMENT) when the call id or identity is longer than 65535 bytes.
export function e2eeAssociatedData(keyId: number, b: SealBinding): Uint8Array<ArrayBuffer> {
  const aad = new ByteWriter(64 + b.callId.length + b.sender.length);
  aad.bytes(utf8.encode(LABEL));
  aad.u8(E2EE_VERSION);
  aad.u32(keyId);
  putString16(aad, b.callId, 'call id');
  aad.u16(b.channelId);
  aad.u32(b.sequence);
  putString16(aad, b.sender, 'sender identity');
  return owned(aad.copy());
}

// A pure function of its inputs: the nonce is the caller's, and must never repeat for
// `key` (E2eeCipher sees to that).
export async function e2eeSeal(
  key: E2eeKey,
  nonce: Uint8Array,
  binding: SealBinding,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  const aad = e2eeAssociatedData(key.id, binding);
  const body = await subtleCrypto().encrypt(
    { name: 'AES-GCM', iv: owned(nonce), additionalData: aad, tagLength: E2EE_TAG_SIZE * 8 },
    await aesKey(key),
    owned(plaintext),
  );
  const out = new ByteWriter(HEADER_SIZE + body.byteLength);
  out.u8(E2EE_VERSION);
  out.u32(key.id);
  out.bytes(nonce);
  out.bytes(new Uint8Array(body)); // ciphertext, then the tag
  return out.copy();
}

// Rejects with DECRYPTION_FAILED saying why: not sealed (version), truncated, a key id
// `keys` lacks, or a tag that does not match (another key, or altered, or bound to another
// call, channel, sequence number or sender).
export async function e2eeOpen(keys: E2eeKeys, binding: SealBinding, sealed: Uint8Array): Promise<Uint8Array> {
  if (sealed.length === 0 || sealed[0] !== E2EE_VERSION) {
    throw failed(
      'it is not a sealed message (the first byte is not the version 0x01): is the sender using end-to-end encryption?',
    );
  }
  if (sealed.length <= E2EE_OVERHEAD) {
    throw failed(`it is truncated (${sealed.length} bytes; a sealed message has at least ${E2EE_OVERHEAD + 1})`);
  }
  const keyId = loadU32(sealed, 1);
  const key = keys.find(keyId);
  if (!key) {
    const held = keys.keys.map((k) => k.id).join(', ');
    throw failed(`it was sealed with key id ${keyId}, which this participant does not hold (it holds ${held})`);
  }
  let aad: Uint8Array<ArrayBuffer>;
  try {
    aad = e2eeAssociatedData(keyId, binding);
  } catch (e) {
    throw failed((e as Error).message);
  }
  let plaintext: ArrayBuffer;
  try {
    plaintext = await subtleCrypto().decrypt(
      { name: 'AES-GCM', iv: sealed.slice(5, HEADER_SIZE), additionalData: aad, tagLength: E2EE_TAG_SIZE * 8 },
      await aesKey(key),
      sealed.slice(HEADER_SIZE),
    );
  } catch {
    throw failed(
      `its authentication tag does not match: the sender's key ${keyId} differs from ours, or the message was altered on the way`,
    );
  }
  return new Uint8Array(plaintext);
}

// One participant's sealing context in one call: its keys, its identity, and the nonce
// state. The 8-byte nonce prefix is drawn at random when the context starts, when the
// sealing key changes, and when the 32-bit counter is used up; the counter then restarts
// at 0. A nonce is taken when seal() is called, synchronously, so overlapping seals never
// share one.
export class E2eeCipher implements PayloadCipher {
  readonly overhead = E2EE_OVERHEAD;
  private currentKeys: E2eeKeys;
  private prefix = new Uint8Array(8);
  private counter = 0; // the next one; 2^32 = used up

  // `firstCounter`: where the counter starts (tests of the wrap; otherwise 0).
  constructor(
    keys: E2eeKeys,
    private readonly callId: string,
    private readonly self: Identity,
    firstCounter = 0,
  ) {
    this.currentKeys = keys;
    this.freshPrefix();
    this.counter = firstCounter;
  }

  get keys(): E2eeKeys {
    return this.currentKeys;
  }

  // New keys for the messages sealed and opened from now on.
  setKeys(keys: E2eeKeys): void {
    const old = this.currentKeys.sealingKey;
    const next = keys.sealingKey;
    const sameKey = old.id === next.id && old.key.every((b, i) => b === next.key[i]);
    this.currentKeys = keys;
    if (!sameKey) this.freshPrefix();
  }

  private freshPrefix(): void {
    // Throws without a CSPRNG: better no message than a repeated nonce.
    globalThis.crypto.getRandomValues(this.prefix);
    this.counter = 0;
  }

  // The nonce of the next message.
  private nextNonce(): Uint8Array {
    if (this.counter >= COUNTER_LIMIT) this.freshPrefix();
    const nonce = new Uint8Array(E2EE_NONCE_SIZE);
    nonce.set(this.prefix);
    new DataView(nonce.buffer).setUint32(8, this.counter++);
    return nonce;
  }

  seal(channelId: number, sequence: number, plaintext: Uint8Array): Promise<Uint8Array> {
    try {
      const nonce = this.nextNonce();
      return e2eeSeal(this.currentKeys.sealingKey, nonce, { callId: this.callId, channelId, sequence, sender: this.self }, plaintext);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async open(sender: Identity, channelId: number, sequence: number, sealed: Uint8Array): Promise<Uint8Array> {
    try {
      return await e2eeOpen(this.currentKeys, { callId: this.callId, channelId, sequence, sender }, sealed);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw failed(`message ${sequence} on channel ${channelId} from ${sender} could not be opened: ${why}`);
    }
  }
}
