// End-to-end encryption in the Web SDK (the twin of tests/client/e2ee_test.cpp): the
// sealed format and the PBKDF2 key of docs/protocol.md byte for byte, what the associated
// data binds, key files, nonces, rotation, and the endpoint opening messages in order per
// receiver (WebCrypto is asynchronous) with failures reported, never delivered.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { E2eeCipher, e2eeAssociatedData, e2eeOpen, e2eeSeal, type SealBinding } from '../../src/client/e2eeCipher.js';
import { E2EE_OVERHEAD, E2eeKeys, type E2eeKey } from '../../src/client/e2eeKeys.js';
import { SwitchboardError, type ErrorCode } from '../../src/core/errors.js';
import { LocalCall } from '../../src/core/localCall.js';
import type { PayloadCipher } from '../../src/core/payloadCipher.js';
import { Inbox, str, T0, text } from './support.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// docs/protocol.md, "Test vector".
const KEY1: E2eeKey = { id: 1, key: Uint8Array.from({ length: 32 }, (_, i) => i) };
const NONCE = unhex('0001020304050607 0000002a');
const BINDING: SealBinding = { callId: 'call-1', channelId: 10000, sequence: 7, sender: 'alice' };
const AAD = '737769746368626f6172642d653265652d7631 01 00000001 0006 63616c6c2d31 2710 00000007 0005 616c696365';
const SEALED = '010000000100010203040506070000002ad051bfd8188943e01acdf3903f29ced94a6ec415dd';
const PASSPHRASE_KEY = '4fc0829cfa02cc3c473551857b8dd9abcc4f076b56181dc4caee0689c6e74ad5';

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, pattern?: RegExp): Promise<string> {
  let message = '';
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof SwitchboardError, `expected a SwitchboardError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    message = e.message;
    return true;
  });
  return message;
}

const keysOf = (...keys: E2eeKey[]): E2eeKeys => E2eeKeys.fromKeys(keys);
const key = (id: number, fill: number): E2eeKey => ({ id, key: new Uint8Array(32).fill(fill) });

describe('E2EE format', () => {
  test('the test vector of docs/protocol.md, byte for byte', async () => {
    assert.equal(hex(e2eeAssociatedData(1, BINDING)), AAD.replace(/ /g, ''));
    const sealed = await e2eeSeal(KEY1, NONCE, BINDING, text('hello'));
    assert.equal(hex(sealed), SEALED);
    assert.equal(sealed.length, 5 + E2EE_OVERHEAD);
    assert.equal(str(await e2eeOpen(keysOf(KEY1), BINDING, unhex(SEALED))), 'hello');
  });

  test('PBKDF2 of the passphrase for the call, as the C++ SDK derives it', async () => {
    const derived = await E2eeKeys.deriveKey(2, 'correct horse battery staple', 'call-1');
    assert.equal(derived.id, 2);
    assert.equal(hex(derived.key), PASSPHRASE_KEY);
    const other = await E2eeKeys.deriveKey(2, 'correct horse battery staple', 'call-2');
    assert.notEqual(hex(other.key), PASSPHRASE_KEY, 'the salt names the call');
  });

  test('every altered byte fails to open with DECRYPTION_FAILED', async () => {
    const sealed = unhex(SEALED);
    const keys = keysOf(KEY1, key(0x01000001, 7));
    for (let i = 0; i < sealed.length; i++) {
      const altered = sealed.slice();
      altered[i]! ^= 0x01;
      await rejectsWith(e2eeOpen(keys, BINDING, altered), 'DECRYPTION_FAILED');
    }
  });

  test('bound to the call, channel, sequence number and sender', async () => {
    const sealed = unhex(SEALED);
    const keys = keysOf(KEY1);
    for (const other of [
      { ...BINDING, callId: 'call-2' },
      { ...BINDING, channelId: 10001 },
      { ...BINDING, sequence: 8 },
      { ...BINDING, sender: 'mallory' },
    ]) {
      await rejectsWith(e2eeOpen(keys, other, sealed), 'DECRYPTION_FAILED', /authentication tag does not match/);
    }
  });

  test('says why: not sealed, truncated, a key id we lack, another key with the same id', async () => {
    const sealed = unhex(SEALED);
    await rejectsWith(e2eeOpen(keysOf(KEY1), BINDING, text('hello in the clear')), 'DECRYPTION_FAILED', /not a sealed message/);
    await rejectsWith(e2eeOpen(keysOf(KEY1), BINDING, sealed.subarray(0, 33)), 'DECRYPTION_FAILED', /truncated \(33 bytes/);
    await rejectsWith(e2eeOpen(keysOf(key(2, 9), key(5, 9)), BINDING, sealed), 'DECRYPTION_FAILED', /key id 1, which this participant does not hold \(it holds 2, 5\)/);
    await rejectsWith(e2eeOpen(keysOf(key(1, 9)), BINDING, sealed), 'DECRYPTION_FAILED', /authentication tag does not match/);
  });
});

describe('E2EE keys', () => {
  test('a key file: comments, blank lines, base64 and passphrase keys; the highest id seals', async () => {
    const keys = await E2eeKeys.parse(
      '# comments and blank lines are ignored\n\n  1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\t\r\n2:passphrase:correct horse battery staple \r\n',
      'call-1',
    );
    assert.deepEqual(keys.keys.map((k) => k.id), [1, 2]);
    assert.equal(hex(keys.find(1)!.key), hex(KEY1.key));
    assert.equal(hex(keys.find(2)!.key), PASSPHRASE_KEY, 'the passphrase is trimmed with its line');
    assert.equal(keys.sealingKey.id, 2);
    assert.equal(keys.callId, 'call-1');
    const raw = await E2eeKeys.parse('4294967295:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n0:' + Buffer.alloc(32, 3).toString('base64'), 'x');
    assert.deepEqual(raw.keys.map((k) => k.id), [0, 4294967295]);
    assert.equal(raw.callId, '', 'raw keys do not depend on the call');
  });

  test('a malformed key file is refused naming the line', async () => {
    const cases: Array<[string, RegExp]> = [
      ['# ok\n1:not base64\n', /^line 2: the key is not padded standard base64/],
      ['1:' + Buffer.alloc(31).toString('base64'), /^line 1: the key is 31 bytes; it must be 32/],
      ['1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8', /^line 1: the key is not padded/],
      ['1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=', /^line 1: the key is not padded/], // unused bits set
      ['1:AAECAwQFBgcICQoL DA0ODxAREhMUFRYXGBkaGxwdHh8=', /^line 1: the key is not padded/],
      ['4294967296:' + Buffer.alloc(32).toString('base64'), /^line 1: the key id must be a decimal number/],
      ['-1:' + Buffer.alloc(32).toString('base64'), /^line 1: the key id must be a decimal number/],
      ['1 ' + Buffer.alloc(32).toString('base64'), /^line 1: expected KEYID:BASE64/],
      ['1:passphrase:', /^line 1: the passphrase is empty/],
      [`1:${Buffer.alloc(32).toString('base64')}\n\n1:${Buffer.alloc(32, 1).toString('base64')}`, /^line 3: key id 1 is already on line 1/],
      ['# nothing\n\n', /^no key/],
    ];
    for (const [file, message] of cases) {
      await rejectsWith(E2eeKeys.parse(file, 'call-1'), 'INVALID_ARGUMENT', message);
    }
  });

  test('fromKeys checks ids and sizes and sorts by id', () => {
    const keys = E2eeKeys.fromKeys([key(9, 1), key(3, 2)]);
    assert.deepEqual(keys.keys.map((k) => k.id), [3, 9]);
    assert.equal(keys.sealingKey.id, 9);
    for (const bad of [[], [key(1, 1), key(1, 2)], [{ id: 1, key: new Uint8Array(16) }], [{ id: 2 ** 32, key: new Uint8Array(32) }], [{ id: 1.5, key: new Uint8Array(32) }]]) {
      assert.throws(() => E2eeKeys.fromKeys(bad), (e: unknown) => e instanceof SwitchboardError && e.code === 'INVALID_ARGUMENT');
    }
    const mine = new Uint8Array(32).fill(4);
    const copied = E2eeKeys.fromKeys([{ id: 1, key: mine }]);
    mine.fill(5);
    assert.equal(copied.find(1)!.key[0], 4, 'the keys are copied');
  });
});

const nonceOf = (sealed: Uint8Array): Uint8Array => sealed.subarray(5, 17);
const counterOf = (sealed: Uint8Array): number => new DataView(sealed.buffer, sealed.byteOffset + 13, 4).getUint32(0);

describe('E2eeCipher', () => {
  test('a context keeps its nonce prefix and counts from 0; contexts differ', async () => {
    const cipher = new E2eeCipher(keysOf(KEY1), 'call-1', 'alice');
    const nonces = new Set<string>();
    // Started together: each seal takes its nonce when called.
    const sealed = await Promise.all(Array.from({ length: 20 }, (_, i) => cipher.seal(10000, i + 1, text(`m${i}`))));
    sealed.forEach((s, i) => {
      assert.equal(hex(nonceOf(s).subarray(0, 8)), hex(nonceOf(sealed[0]!).subarray(0, 8)));
      assert.equal(counterOf(s), i);
      nonces.add(hex(nonceOf(s)));
    });
    assert.equal(nonces.size, 20);
    const prefixes = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const s = await new E2eeCipher(keysOf(KEY1), 'call-1', 'alice').seal(1, 1, text('x'));
      prefixes.add(hex(nonceOf(s).subarray(0, 8)));
    }
    assert.equal(prefixes.size, 20, 'each context draws its own prefix');
  });

  test('the counter wraps to a fresh prefix', async () => {
    const cipher = new E2eeCipher(keysOf(KEY1), 'call-1', 'alice', 0xfffffffe);
    const s = [await cipher.seal(1, 1, text('a')), await cipher.seal(1, 2, text('b')), await cipher.seal(1, 3, text('c'))];
    assert.deepEqual(s.map(counterOf), [0xfffffffe, 0xffffffff, 0]);
    assert.equal(hex(nonceOf(s[0]!).subarray(0, 8)), hex(nonceOf(s[1]!).subarray(0, 8)));
    assert.notEqual(hex(nonceOf(s[1]!).subarray(0, 8)), hex(nonceOf(s[2]!).subarray(0, 8)));
  });

  test('opens what another context sealed for it, naming the message when it cannot', async () => {
    const alice = new E2eeCipher(keysOf(KEY1), 'call-1', 'alice');
    const bob = new E2eeCipher(keysOf(KEY1), 'call-1', 'bob');
    const sealed = await alice.seal(10000, 3, text('secret'));
    assert.equal(str(await bob.open('alice', 10000, 3, sealed)), 'secret');
    await rejectsWith(bob.open('carol', 10000, 3, sealed), 'DECRYPTION_FAILED', /^message 3 on channel 10000 from carol could not be opened: its authentication tag/);
  });

  test('rotation: the highest id seals, every listed id opens, a new sealing key starts a new context', async () => {
    const old = key(1, 0x11);
    const next = key(2, 0x22);
    const alice = new E2eeCipher(keysOf(old), 'call-1', 'alice');
    const bobOld = new E2eeCipher(keysOf(old), 'call-1', 'bob');
    const bobBoth = new E2eeCipher(keysOf(old, next), 'call-1', 'bob');
    const before = await alice.seal(5, 1, text('before'));
    await alice.seal(5, 2, text('again'));
    alice.setKeys(keysOf(old, next));
    const after = await alice.seal(5, 3, text('after'));
    assert.equal(before[4], 1, 'sealed with key id 1');
    assert.equal(after[4], 2, 'sealed with key id 2 after rotation');
    assert.equal(counterOf(after), 0, 'a new sealing key starts a new context');
    assert.notEqual(hex(nonceOf(after).subarray(0, 8)), hex(nonceOf(before).subarray(0, 8)));
    assert.equal(str(await bobBoth.open('alice', 5, 1, before)), 'before', 'messages sealed with the old id still open');
    assert.equal(str(await bobBoth.open('alice', 5, 3, after)), 'after');
    assert.equal(str(await bobOld.open('alice', 5, 1, before)), 'before');
    await rejectsWith(bobOld.open('alice', 5, 3, after), 'DECRYPTION_FAILED', /key id 2, which this participant does not hold \(it holds 1\)/);
    // Dropping the old id: what it sealed no longer opens.
    bobBoth.setKeys(keysOf(next));
    await rejectsWith(bobBoth.open('alice', 5, 1, before), 'DECRYPTION_FAILED', /key id 1/);
    // The same sealing key again keeps the context.
    alice.setKeys(keysOf(next));
    assert.equal(counterOf(await alice.seal(5, 4, text('x'))), 1);
  });
});

// A cipher whose opens finish when the test says, in any order.
class HeldCipher implements PayloadCipher {
  readonly overhead = 0;
  readonly held: Array<{ sequence: number; finish: () => void }> = [];
  seal(_c: number, _s: number, plaintext: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(plaintext);
  }
  open(_sender: string, _channel: number, sequence: number, sealed: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.held.push({
        sequence,
        finish: () => (str(sealed).startsWith('bad') ? reject(new SwitchboardError('DECRYPTION_FAILED', `bad ${sequence}`)) : resolve(sealed)),
      });
    });
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Endpoint with a payload cipher', () => {
  test('messages reach the receiver in arrival order however their opening finishes; failures are reported, not delivered; the close comes last', async () => {
    const call = new LocalCall();
    const alice = call.join('alice', T0);
    const bob = call.join('bob', T0);
    const inbox = new Inbox(bob);
    const cipher = new HeldCipher();
    bob.setPayloadCipher(cipher);
    const events = inbox.events;
    const s = alice.createSender({ channelId: 7 }, T0);
    for (const m of ['one', 'bad two', 'three', 'four']) alice.send(s, text(m));
    alice.close(s);
    call.pump(T0);
    assert.deepEqual(events, ['created 7 alice readable=0'], 'the receiver is announced at once; nothing is readable while opening');
    assert.deepEqual(cipher.held.map((h) => h.sequence), [1, 2, 3, 4], 'all four are opening at once');
    // The last ones finish first.
    for (const i of [3, 2, 1]) cipher.held[i]!.finish();
    await tick();
    assert.deepEqual(events, ['created 7 alice readable=0'], 'nothing overtakes message 1');
    cipher.held[0]!.finish();
    await tick();
    assert.deepEqual(events, [
      'created 7 alice readable=0',
      'message 7 alice 1',
      'rejected 7 alice 2 DECRYPTION_FAILED',
      'message 7 alice 3',
      'message 7 alice 4',
      'closed 7 alice sender_closed',
    ]);
    assert.deepEqual(inbox.messages.map((m) => str(m.data)), ['one', 'three', 'four']);
    assert.equal(bob.stats.messagesRejected, 1);
    assert.equal(bob.stats.messagesDelivered, 3);
    assert.ok(inbox.settled >= 1, 'the owner hears that events came after ingest');
  });

  test('a real cipher end to end: sealed by alice, opened by bob, refused by carol with another key', async () => {
    const call = new LocalCall();
    const alice = call.join('alice', T0);
    const bob = call.join('bob', T0);
    const carol = call.join('carol', T0);
    const bobInbox = new Inbox(bob);
    const carolInbox = new Inbox(carol);
    const sealer = new E2eeCipher(keysOf(KEY1), 'call-1', 'alice');
    alice.setPayloadCipher(sealer);
    bob.setPayloadCipher(new E2eeCipher(keysOf(KEY1), 'call-1', 'bob'));
    carol.setPayloadCipher(new E2eeCipher(keysOf(key(1, 0x55)), 'call-1', 'carol'));
    const s = alice.createSender({ channelId: 10000 }, T0);
    assert.equal(alice.maxMessageSize(s), s.maxMessageSize - 33, 'a sender holds 33 bytes less before sealing');
    for (let i = 1; i <= 3; i++) alice.send(s, await sealer.seal(s.channelId, s.nextSequence, text(`secret ${i}`)));
    call.pump(T0);
    await Promise.all([bob.whenOpened(), carol.whenOpened()]);
    assert.deepEqual(bobInbox.messages.map((m) => [m.sequence, str(m.data)]), [[1, 'secret 1'], [2, 'secret 2'], [3, 'secret 3']]);
    assert.deepEqual(carolInbox.messages, []);
    assert.deepEqual(carolInbox.events.filter((e) => e.startsWith('rejected')), [1, 2, 3].map((i) => `rejected 10000 alice ${i} DECRYPTION_FAILED`));
    assert.match(carolInbox.errors[0]!.message, /^message 1 on channel 10000 from alice could not be opened: its authentication tag/);
  });
});
