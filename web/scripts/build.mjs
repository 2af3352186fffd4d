// npm run build: the SDK as one ES module (dist/switchboard.js), its declarations
// (dist/types), and the demo app (dist/demo) when web/demo exists.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(web, 'dist');
const common = { bundle: true, format: 'esm', target: 'es2022', platform: 'browser', logLevel: 'warning' };

rmSync(dist, { recursive: true, force: true });
await build({ ...common, entryPoints: [join(web, 'src/index.ts')], outfile: join(dist, 'switchboard.js') });

const tsc = spawnSync(process.execPath, [join(web, 'node_modules/typescript/bin/tsc'), '-p', join(web, 'tsconfig.types.json')], {
  stdio: 'inherit',
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

// The demo belongs to its own folder; build it only once it is there.
const demo = join(web, 'demo');
if (existsSync(join(demo, 'app.ts'))) {
  await build({ ...common, entryPoints: [join(demo, 'app.ts')], outfile: join(dist, 'demo/app.js') });
}
for (const file of ['index.html', 'style.css']) {
  if (!existsSync(join(demo, file))) continue;
  mkdirSync(join(dist, 'demo'), { recursive: true });
  copyFileSync(join(demo, file), join(dist, 'demo', file));
}
