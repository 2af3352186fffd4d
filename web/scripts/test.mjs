// npm test: compiles test/unit/*.test.ts (with the core they import) to a scratch
// directory and runs them with node:test. Extra arguments go to `node --test`.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const unit = join(web, 'test/unit');
const tests = readdirSync(unit).filter((f) => f.endsWith('.test.ts')).map((f) => join(unit, f));
if (tests.length === 0) {
  console.error('no tests in test/unit');
  process.exit(1);
}

const out = mkdtempSync(join(tmpdir(), 'switchboard-web-unit-'));
let status = 1;
try {
  await build({
    entryPoints: tests,
    outdir: out,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  const compiled = readdirSync(out).filter((f) => f.endsWith('.test.mjs')).map((f) => join(out, f));
  const run = spawnSync(process.execPath, ['--enable-source-maps', '--test', ...process.argv.slice(2), ...compiled], {
    stdio: 'inherit',
  });
  status = run.status ?? 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.exit(status);
