// The demo app end to end in headless Chromium, served by a real switchboard-server:
// node test/demo.mjs SERVER_BINARY
// alice and bob join through the page (dev tokens from /v1/dev-token), chat, and alice
// sends bob a 3 MiB file that bob accepts and downloads (its SHA-256 compared here); then
// carol joins and a line ticked for bob alone does not reach her. Exits 0 when all held.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './browser.mjs';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const serverBinary = process.argv[2];
if (!serverBinary) {
  console.error('usage: node test/demo.mjs path/to/switchboard-server');
  process.exit(2);
}

// 77: skipped (ctest SKIP_RETURN_CODE), saying why.
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(chromiumPath)) {
  console.error(`skipped: no Chromium at ${chromiumPath} (set CHROMIUM)`);
  process.exit(77);
}
if (!existsSync(join(web, 'dist/demo/app.js'))) {
  console.error('skipped: web/dist has no demo; build it with `npm --prefix web run build`');
  process.exit(77);
}

function startServer() {
  const child = spawn(serverBinary, ['--dev', '--port', '0', '--web-root', join(web, 'dist'), '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = /listening on [^:]+:(\d+)/.exec(line);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`switchboard-server exited with ${code}`)));
  });
}

async function joinAs(browser, base, user) {
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (e) => console.error(`[${user}] page error:`, e));
  await page.goto(`${base}/?call=demo-test&user=${user}`);
  await page.fill('input[name=user]', user);
  await page.fill('input[name=name]', user.toUpperCase());
  await page.click('#join button[type=submit]');
  await page.waitForSelector('#call:not([hidden])', { timeout: 15000 });
  await page.waitForSelector('#join', { state: 'hidden' });
  return page;
}

const logText = (page) => page.locator('#log').innerText();
async function waitForLog(page, text, timeout = 15000) {
  await page.waitForFunction((t) => document.getElementById('log').innerText.includes(t), text, { timeout });
}

const { child, port } = await startServer();
const browser = await launchChromium();
let failed = false;
try {
  const base = `http://127.0.0.1:${port}`;
  const alice = await joinAs(browser, base, 'alice');
  const bob = await joinAs(browser, base, 'bob');
  await waitForLog(alice, 'BOB (bob) joined');

  // Two people who allow it go peer-to-peer; the badge says so.
  await alice.waitForFunction(() => document.getElementById('transport').textContent.includes('peer-to-peer'), null, { timeout: 15000 });

  await alice.fill('#line', 'hello bob');
  await alice.click('#chat button');
  await waitForLog(bob, 'ALICE (alice): hello bob');

  const content = randomBytes(3 * 1024 * 1024 + 123);
  const digest = createHash('sha256').update(content).digest('hex');
  await alice.setInputFiles('#file', { name: 'report.bin', mimeType: 'application/octet-stream', buffer: content });
  await alice.click('#share button');
  await bob.waitForSelector('#transfers button:has-text("Accept")', { timeout: 15000 });
  await bob.click('#transfers button:has-text("Accept")');
  await bob.waitForSelector('#transfers a.download', { timeout: 30000 });
  await alice.waitForFunction(() => document.getElementById('transfers').innerText.includes('delivered'), null, { timeout: 15000 });
  const got = await bob.evaluate(async () => {
    const link = document.querySelector('#transfers a.download');
    const bytes = new Uint8Array(await (await fetch(link.href)).arrayBuffer());
    const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return { name: link.download, size: bytes.length, sha256: [...hash].map((b) => b.toString(16).padStart(2, '0')).join('') };
  });
  if (got.name !== 'report.bin' || got.size !== content.length || got.sha256 !== digest) {
    throw new Error(`bob's download differs: ${JSON.stringify(got)}, expected ${content.length} bytes ${digest}`);
  }

  // A third: back through the server; a line for bob alone skips carol.
  const carol = await joinAs(browser, base, 'carol');
  await alice.waitForFunction(() => document.getElementById('transport').textContent.includes('through the server'), null, { timeout: 15000 });
  await alice.check('#people label:has-text("bob") input');
  await alice.fill('#line', 'only for bob');
  await alice.click('#chat button');
  await alice.uncheck('#people label:has-text("bob") input');
  await alice.fill('#line', 'for everyone');
  await alice.click('#chat button');
  await waitForLog(carol, 'for everyone');
  await waitForLog(bob, 'for everyone');
  if (!(await logText(bob)).includes('only for bob')) throw new Error('bob did not get his line');
  if ((await logText(carol)).includes('only for bob')) throw new Error('carol got the line meant for bob alone');
  console.log('demo: join, chat, peer-to-peer badge, file transfer with SHA-256, chosen recipients: ok');
} catch (e) {
  failed = true;
  console.error('demo test failed:', e);
} finally {
  await browser.close();
  child.kill('SIGTERM');
}
process.exit(failed ? 1 : 0);
