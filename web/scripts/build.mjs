// npm run build: the SDK as one ES module (dist/switchboard.js), its declarations
// (dist/types), and the demo app (dist/demo) when web/demo has it.
// Each output file is replaced atomically (written aside, then renamed), so a server
// serving dist/ while this runs never sees a missing or half-written file.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(web, 'dist');
const demo = join(web, 'demo');

function replace(path, contents) {
  mkdirSync(dirname(path), { recursive: true });
  const aside = `${path}.${process.pid}.tmp`;
  writeFileSync(aside, contents);
  renameSync(aside, path);
}

async function bundle(entry, outfile) {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    logLevel: 'warning',
    write: false,
  });
  for (const file of result.outputFiles) replace(file.path, file.contents);
}

await bundle(join(web, 'src/index.ts'), join(dist, 'switchboard.js'));

rmSync(join(dist, 'types'), { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(web, 'node_modules/typescript/bin/tsc'), '-p', join(web, 'tsconfig.types.json')], {
  stdio: 'inherit',
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

// The demo has its own author; build it only once it is there.
if (existsSync(join(demo, 'app.ts'))) await bundle(join(demo, 'app.ts'), join(dist, 'demo/app.js'));
for (const file of ['index.html', 'style.css']) {
  if (existsSync(join(demo, file))) replace(join(dist, 'demo', file), readFileSync(join(demo, file)));
}
