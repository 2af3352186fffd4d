// npm run bench:e2ee: what end-to-end encryption costs the Web SDK under Node's WebCrypto
// (the same API the browsers implement): PBKDF2 of a passphrase, and sealing + opening
// messages of several sizes, one at a time and 64 in flight. Prints figures; passes or
// fails on nothing.
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = mkdtempSync(join(tmpdir(), 'switchboard-bench-e2ee-'));
try {
  await build({
    stdin: {
      contents: "export * from './src/client/e2eeCipher.ts'; export * from './src/client/e2eeKeys.ts';",
      resolveDir: web,
      loader: 'ts',
    },
    outfile: join(out, 'e2ee.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
  const { E2eeCipher, E2eeKeys } = await import(pathToFileURL(join(out, 'e2ee.mjs')).href);

  let t = performance.now();
  await E2eeKeys.deriveKey(1, 'correct horse battery staple', 'call-1');
  console.log(`PBKDF2-HMAC-SHA256, 600,000 iterations: ${(performance.now() - t).toFixed(0)} ms`);

  const keys = E2eeKeys.fromKeys([{ id: 1, key: new Uint8Array(32).fill(7) }]);
  const alice = new E2eeCipher(keys, 'call-1', 'alice');
  const bob = new E2eeCipher(keys, 'call-1', 'bob');
  const roundTrip = async (seq, data) => bob.open('alice', 10000, seq, await alice.seal(10000, seq, data));
  console.log('size       serial msg/s   serial MB/s   64 in flight msg/s   MB/s');
  for (const size of [100, 1024, 16 * 1024, 64 * 1024, 256 * 1024 - 33]) {
    const data = new Uint8Array(size).fill(1);
    const count = Math.max(200, Math.min(20000, Math.floor((64 * 1024 * 1024) / size)));
    for (let i = 0; i < 50; i++) await roundTrip(i + 1, data); // warm-up
    t = performance.now();
    for (let i = 0; i < count; i++) await roundTrip(i + 1, data);
    const serial = (performance.now() - t) / 1000;
    t = performance.now();
    for (let i = 0; i < count; i += 64) {
      await Promise.all(Array.from({ length: Math.min(64, count - i) }, (_, j) => roundTrip(i + j + 1, data)));
    }
    const parallel = (performance.now() - t) / 1000;
    const row = [
      String(size).padEnd(10),
      (count / serial).toFixed(0).padStart(12),
      ((count * size) / serial / 1e6).toFixed(1).padStart(13),
      (count / parallel).toFixed(0).padStart(20),
      ((count * size) / parallel / 1e6).toFixed(1).padStart(7),
    ];
    console.log(row.join(' '));
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
