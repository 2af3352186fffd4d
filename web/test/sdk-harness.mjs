// What the Web SDK browser tests (web-sdk.mjs) share: a switchboard-server on the
// namespace's interface address, native participants (`switchboard agent`, JSON lines),
// pages in headless Chromium that load the SDK the server serves at /sdk/switchboard.js,
// access tokens, and waiting with a deadline that says what it waited for.
//
// Chromium gathers no loopback candidates, so these run inside scripts/with-netns with
// everything on 10.200.0.1; `--dev` refuses such a bind, so the server takes the
// development secret from a file (agents with --dev sign with the same secret).
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

// src/signaling/token.hpp kDevelopmentSecret: what `--dev` signs with.
export const DEV_SECRET = 'switchboard-development-secret-do-not-use-in-production';
// Every process started here, killed when this one exits however it exits.
// Every process started here, killed when this one exits however it exits, and every
// scratch directory, removed.
const children = new Set();
const scratch = new Set();
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

// An HS256 access token (docs/protocol.md, "Access tokens") signed with the dev secret.
export function token(user, call, name = user.toUpperCase()) {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: user, call, name, iat: now, exp: now + 3600 })}`;
  return `${body}.${createHmac('sha256', DEV_SECRET).update(body).digest('base64url')}`;
}

// Resolves when pred(value) holds for a value of poll(); rejects after ms, naming `what`.
export async function until(poll, what, ms = 30000, every = 50) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await poll();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

// `port` 0 takes a free one; `host` is where clients reach it (default: `bind`).
export async function startServer(binary, { bind, webRoot, extra = [], port: wanted = 0, host = bind }) {
  const dir = mkdtempSync(join(tmpdir(), 'sb-web-sdk-'));
  scratch.add(dir);
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, DEV_SECRET);
  const args = ['--bind', bind, '--port', String(wanted), '--secret-file', secretFile, '--log-level', 'warn', ...extra];
  if (webRoot) args.push('--web-root', webRoot);
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const port = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /listening on \S*:(\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`switchboard-server exited with ${code} before listening`)));
  });
  const http = `http://${host}:${port}`;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    url: `ws://${host}:${port}`,
    http,
    port,
    // A signal (SIGKILL, SIGSTOP, SIGCONT) to the server process.
    signal(name) {
      child.kill(name);
    },
    // SIGKILL, then resolves once it is gone: a crash, nothing cleaned up.
    async killed() {
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
    async metric(name) {
      const text = await (await fetch(`${http}/metrics`)).text();
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
      if (!m) throw new Error(`GET /metrics has no ${name}`);
      return Number(m[1]);
    },
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    // SIGTERM, then resolves once it exited: a clean shutdown leaves its files complete.
    async stopped() {
      this.stop();
      await exited;
    },
  };
}

// One `switchboard agent`: commands in, events kept in order and awaited by predicate.
export class Agent {
  constructor(binary, url, call, user, { p2p = true, keepMessages = true, extra = [] } = {}) {
    this.user = user;
    this.events = [];
    this.waiters = [];
    this.listeners = [];
    this.keepMessages = keepMessages;
    this.child = spawn(binary, ['agent', '--server', url, '--call', call, '--user', user, '--dev', '--display-name', user.toUpperCase(), ...(p2p ? [] : ['--p2p', 'off']), ...extra], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr.on('data', (d) => process.env.VERBOSE && process.stderr.write(`[${user}] ${d}`));
    children.add(this.child);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const e = JSON.parse(line);
      if (process.env.VERBOSE && e.event !== 'message' && e.event !== 'sent') console.log(`[${user}] ${line}`);
      for (const listener of this.listeners) listener(e);
      if (e.event !== 'message' || this.keepMessages) this.events.push(e);
      this.waiters = this.waiters.filter((w) => !w(e));
    });
  }
  cmd(command) {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }
  onEvent(listener) {
    this.listeners.push(listener);
  }
  // The first event (already seen or to come) that pred accepts.
  next(pred, what, ms = 30000) {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return this.future(pred, what, ms);
  }
  // The first event from now on that pred accepts.
  future(pred, what, ms = 30000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.user}: timed out after ${ms} ms waiting for ${what}`)), ms);
      this.waiters.push((e) => {
        if (!pred(e)) return false;
        clearTimeout(timer);
        resolve(e);
        return true;
      });
    });
  }
  // Sends a command with a fresh req and resolves with its answer (or rejects on error).
  async request(command, ms = 30000) {
    this.reqs = (this.reqs ?? 0) + 1;
    const req = `r${this.reqs}`;
    const answer = this.future((e) => e.req === req, `the answer to ${JSON.stringify(command).slice(0, 100)}`, ms);
    this.cmd({ ...command, req });
    const e = await answer;
    if (e.event === 'error') throw Object.assign(new Error(`${this.user}: ${e.code}: ${e.message}`), { code: e.code });
    return e;
  }
  messages(channelId, from) {
    return this.events.filter((e) => e.event === 'message' && e.channelId === channelId && e.from === from);
  }
  async leave() {
    await this.request({ op: 'leave' });
    return this.exited;
  }
  kill() {
    this.child.kill('SIGTERM');
  }
}

// Installed in each page: the SDK imported from the server, a call joined on demand, every
// receiver's messages and every call event kept in order for the test to read.
function pageSetup() {
  const T = {
    log: [],
    got: {}, // "sender/channel" -> [[sequenceNumber, text]]
    senders: {},
    seqs: {}, // channel -> the sequence numbers sendMessage resolved with
    others: new Set(), // channels whose messages are someone else's to read (e.g. FileTransfer's)
  };
  window.T = T;
  // opts.e2eeKeys: a key file's text, read with E2eeKeys.parse for the call.
  T.join = async ({ e2eeKeys, ...opts }) => {
    const sb = await import('/sdk/switchboard.js');
    T.sb = sb;
    if (e2eeKeys !== undefined) opts.e2ee = await sb.E2eeKeys.parse(e2eeKeys, opts.callId);
    const call = await new sb.CallClient().join(opts);
    T.call = call;
    call.on('transportChanged', (t) => T.log.push({ transport: t.mode, peer: t.peer?.identity }));
    call.on('participantJoined', (p) => T.log.push({ joined: p.identity, name: p.displayName }));
    call.on('participantLeft', (p) => T.log.push({ left: p.identity }));
    call.on('disconnected', (e) => T.log.push({ disconnected: `${e.code} ${e.message}` }));
    call.on('connectionStateChanged', (e) =>
      T.log.push({
        connection: e.state,
        resumed: e.resumed,
        unconfirmed: e.unconfirmedMessageCount,
        reason: e.reason?.message,
        at: Date.now(),
      }),
    );
    call.dataChannel.on('dataChannelReceiverCreated', (r) => {
      const key = `${r.senderIdentity}/${r.channelId}`;
      T.log.push({ receiver: key });
      if (T.others.has(r.channelId)) return;
      T.got[key] ??= [];
      const drain = () => {
        for (let m; (m = r.readMessage()); ) T.got[key].push([m.sequenceNumber, new TextDecoder().decode(m.data)]);
      };
      r.on('messageReady', drain);
      r.on('error', (e) => T.log.push({ error: key, code: e.code, message: e.message }));
      r.on('close', (reason) => {
        drain();
        T.log.push({ close: key, reason, after: T.got[key].length });
      });
      drain();
    });
    return { self: call.self, participants: call.participants, transport: call.transport };
  };
  T.sender = (channelId, options = {}) =>
    (T.senders[channelId] ??= T.call.dataChannel.createDataChannelSender({ channelId, reliability: 'Durable', priority: 'Normal', ...options }));
  // Sends `${prefix}-${i}` for i in [from, from + count); returns the sequence numbers.
  T.sendTexts = async (channelId, prefix, from, count) => {
    const s = T.sender(channelId);
    const enc = new TextEncoder();
    const out = [];
    for (let i = from; i < from + count; i++) out.push(await s.sendMessage(enc.encode(`${prefix}-${i}`)));
    (T.seqs[channelId] ??= []).push(...out);
    return out;
  };
}

export async function newPage(browser, base, label) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('console', (m) => process.env.VERBOSE && console.log(`[${label} console] ${m.text()}`));
  page.on('pageerror', (e) => console.log(`[${label} page error] ${e.stack ?? e}`));
  // Any page of the server's origin will do; /sdk/switchboard.js is imported from it.
  await page.goto(`${base}/`);
  await page.evaluate(pageSetup);
  page.label = label;
  return page;
}

export async function waitPage(page, fn, arg, what, ms = 30000) {
  try {
    await page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
  } catch (e) {
    throw new Error(`${page.label}: timed out after ${ms} ms waiting for ${what}`);
  }
}

// Runs the named scenarios in order; prints PASS/FAIL for each; resolves to the failures.
export async function runScenarios(scenarios) {
  let failures = 0;
  for (const [name, fn] of scenarios) {
    const t0 = Date.now();
    console.log(`--- ${name}`);
    try {
      await fn();
      console.log(`PASS ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failures++;
      console.log(`FAIL ${name}: ${e.stack ?? e}`);
    }
  }
  return failures;
}
