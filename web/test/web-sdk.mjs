// The Web SDK in headless Chromium against a real switchboard-server and native
// participants (`switchboard agent`). Run inside scripts/with-netns:
//
//   node web/test/web-sdk.mjs SCENARIO BIN_DIR [BIND_ADDRESS]
//
// SCENARIO: messaging | files | files-cli | p2p | demo | e2ee | cluster | reconnect | all. BIN_DIR holds switchboard and
// switchboard-server. The server serves web/dist (the SDK at /sdk/switchboard.js, the demo
// at /). Exit status 0 when every scenario held, 1 otherwise, 77 (skipped) without
// Chromium or a built web/dist. Set VERBOSE=1 for the agents' logs and the pages' console.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from './browser.mjs';
import { Agent, newPage, runScenarios, sleep, startServer, token, until, waitPage } from './sdk-harness.mjs';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const [which, binDir, bind = '10.200.0.1'] = process.argv.slice(2);
const SCENARIOS = ['messaging', 'files', 'files-cli', 'p2p', 'demo', 'e2ee', 'cluster', 'reconnect'];
if (!binDir || !(which === 'all' || SCENARIOS.includes(which))) {
  console.error(`usage: node web-sdk.mjs ${SCENARIOS.join('|')}|all BIN_DIR [BIND_ADDRESS]`);
  process.exit(2);
}
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(chromiumPath)) {
  console.error(`SKIPPED: no Chromium at ${chromiumPath} (set CHROMIUM)`);
  process.exit(77);
}
const webRoot = process.env.SWITCHBOARD_WEB_ROOT || join(web, 'dist');
if (!existsSync(join(webRoot, 'switchboard.js')) || !existsSync(join(webRoot, 'demo/app.js'))) {
  console.error(`SKIPPED: ${webRoot} has no switchboard.js and demo/; build it with \`npm --prefix web run build\``);
  process.exit(77);
}
const agentBinary = join(binDir, 'switchboard');
const serverBinary = join(binDir, 'switchboard-server');
const artifacts = process.env.SWITCHBOARD_TEST_ARTIFACTS || join(web, 'test-results');

const range = (from, count) => Array.from({ length: count }, (_, i) => from + i);
// [sequenceNumber, text] pairs a receiver should have: the texts `${prefix}-${i}` with the
// sequence numbers their sender was given, in sending order, each once.
const expected = (prefix, from, seqs) => seqs.map((seq, i) => [seq, `${prefix}-${from + i}`]);
const agentGot = (agent, channelId, from) => agent.messages(channelId, from).map((e) => [e.sequenceNumber, e.text]);
const pageGot = (page, key) => page.evaluate((k) => T.got[k] ?? [], key);
const pageLog = (page) => page.evaluate(() => T.log);

async function agentSendTexts(agent, channelId, prefix, from, count) {
  const answers = range(from, count).map((i) => agent.request({ op: 'send', channelId, text: `${prefix}-${i}` }));
  return (await Promise.all(answers)).map((e) => e.sequenceNumber);
}
function joinPage(page, callId, user, extra = {}) {
  return page.evaluate((o) => T.join(o), { server: server.url, callId, token: token(user, callId), ...extra });
}
async function waitPageGot(page, key, count, what) {
  await waitPage(page, ([k, n]) => (T.got[k] ?? []).length >= n, [key, count], what);
}

// ---- 1. Three participants (two browsers, one native): broadcast, directed messages,
// closing senders, leaving, every direction.
async function messaging() {
  const callId = 'web-sdk-messaging';
  const N = 100;
  // The pages import the SDK the server serves: the build's bundle, as a JavaScript module.
  const sdk = await fetch(`${server.http}/sdk/switchboard.js`);
  assert.equal(sdk.status, 200);
  assert.match(sdk.headers.get('content-type') ?? '', /^(application|text)\/javascript/);
  assert.equal(await sdk.text(), readFileSync(join(webRoot, 'switchboard.js'), 'utf8'), 'GET /sdk/switchboard.js is web/dist/switchboard.js');
  const alice = await newPage(browser, server.http, 'alice');
  const bob = await newPage(browser, server.http, 'bob');
  const aliceJoined = await joinPage(alice, callId, 'alice', { p2p: false, displayName: 'Alice A.' });
  assert.equal(aliceJoined.self.identity, 'alice');
  assert.equal(aliceJoined.self.displayName, 'Alice A.');
  assert.deepEqual(aliceJoined.participants, []);
  assert.equal(aliceJoined.transport.mode, 'server');
  const bobJoined = await joinPage(bob, callId, 'bob', { p2p: false });
  assert.deepEqual(bobJoined.participants.map((p) => [p.identity, p.displayName]), [['alice', 'Alice A.']]);
  const carol = new Agent(agentBinary, server.url, callId, 'carol', { p2p: false });
  const carolJoined = await carol.next((e) => e.event === 'joined', 'carol joined');
  assert.deepEqual(carolJoined.participants.map((p) => [p.user, p.displayName]).sort(), [['alice', 'Alice A.'], ['bob', 'BOB']]);
  await waitPage(alice, () => T.log.some((l) => l.joined === 'bob') && T.log.some((l) => l.joined === 'carol'), undefined, 'bob and carol joined');
  await waitPage(bob, () => T.log.some((l) => l.joined === 'carol'), undefined, 'carol joined');
  assert.deepEqual((await pageLog(alice)).filter((l) => l.joined), [{ joined: 'bob', name: 'BOB' }, { joined: 'carol', name: 'CAROL' }]);
  assert.deepEqual(await alice.evaluate(() => T.call.participants.map((p) => p.identity)), ['bob', 'carol']);

  // Broadcast on 10000, all three at once.
  await carol.request({ op: 'create_sender', channelId: 10000, reliability: 'durable' });
  const [aSeqs, bSeqs, cSeqs] = await Promise.all([
    alice.evaluate((n) => T.sendTexts(10000, 'alice', 0, n), N),
    bob.evaluate((n) => T.sendTexts(10000, 'bob', 0, n), N),
    agentSendTexts(carol, 10000, 'carol', 0, N),
  ]);
  for (const seqs of [aSeqs, bSeqs, cSeqs]) assert.deepEqual(seqs, range(1, N), 'a new sender numbers its messages 1, 2, 3, …');
  await waitPageGot(alice, 'bob/10000', N, "bob's broadcast");
  await waitPageGot(alice, 'carol/10000', N, "carol's broadcast");
  await waitPageGot(bob, 'alice/10000', N, "alice's broadcast");
  await waitPageGot(bob, 'carol/10000', N, "carol's broadcast");
  await until(() => carol.messages(10000, 'alice').length >= N && carol.messages(10000, 'bob').length >= N, "carol got both broadcasts");
  await sleep(300); // anything extra (a duplicate) would arrive by now
  assert.deepEqual(await pageGot(alice, 'bob/10000'), expected('bob', 0, bSeqs), 'browser → browser broadcast');
  assert.deepEqual(await pageGot(alice, 'carol/10000'), expected('carol', 0, cSeqs), 'native → browser broadcast');
  assert.deepEqual(await pageGot(bob, 'alice/10000'), expected('alice', 0, aSeqs), 'browser → browser broadcast');
  assert.deepEqual(await pageGot(bob, 'carol/10000'), expected('carol', 0, cSeqs), 'native → browser broadcast');
  assert.deepEqual(agentGot(carol, 10000, 'alice'), expected('alice', 0, aSeqs), 'browser → native broadcast');
  assert.deepEqual(agentGot(carol, 10000, 'bob'), expected('bob', 0, bSeqs), 'browser → native broadcast');
  assert.deepEqual(await pageGot(alice, 'alice/10000'), [], 'nobody gets its own messages');
  // receiver_created comes before the first message of its pair.
  const firstOf = (from) => carol.events.findIndex((e) => e.event === 'message' && e.from === from);
  assert.ok(carol.events.findIndex((e) => e.event === 'receiver_created' && e.from === 'alice' && e.channelId === 10000) < firstOf('alice'));
  console.log(`broadcast: ${N} messages from each of alice, bob (browsers) and carol (native) reached the other two in order`);

  // Directed: browser → native (then re-aimed at the other browser), browser → browser,
  // native → browser. The others get nothing.
  await alice.evaluate(() => T.sender(10002, { participants: ['carol'] }));
  const a2c = await alice.evaluate(() => T.sendTexts(10002, 'a2c', 0, 20));
  await alice.evaluate(() => T.senders[10002].setParticipants(['bob']));
  const a2b = await alice.evaluate(() => T.sendTexts(10002, 'a2b', 20, 10));
  assert.deepEqual([...a2c, ...a2b], range(1, 30), 'one sender numbers on whoever it sends to');
  await bob.evaluate(() => T.sender(10003, { participants: ['alice'] }));
  const b2a = await bob.evaluate(() => T.sendTexts(10003, 'b2a', 0, 20));
  await carol.request({ op: 'create_sender', channelId: 10004, reliability: 'durable', participants: ['bob'] });
  const c2b = await agentSendTexts(carol, 10004, 'c2b', 0, 20);
  await until(() => carol.messages(10002, 'alice').length >= 20, 'carol got alice’s directed messages');
  await waitPageGot(bob, 'alice/10002', 10, "alice's messages after setParticipants(['bob'])");
  await waitPageGot(alice, 'bob/10003', 20, "bob's directed messages");
  await waitPageGot(bob, 'carol/10004', 20, "carol's directed messages");
  await sleep(1000);
  assert.deepEqual(agentGot(carol, 10002, 'alice'), expected('a2c', 0, a2c), 'browser → native, directed');
  assert.deepEqual(await pageGot(bob, 'alice/10002'), expected('a2b', 20, a2b), 'browser → browser after setParticipants');
  assert.deepEqual(await pageGot(alice, 'bob/10003'), expected('b2a', 0, b2a), 'browser → browser, directed');
  assert.deepEqual(await pageGot(bob, 'carol/10004'), expected('c2b', 0, c2b), 'native → browser, directed');
  assert.deepEqual(await pageGot(alice, 'carol/10004'), [], 'alice got carol’s messages for bob');
  assert.deepEqual(await pageGot(bob, 'bob/10003'), []);
  assert.equal(carol.messages(10003, 'bob').length, 0, 'carol got bob’s messages for alice');
  assert.equal((await pageLog(alice)).some((l) => l.receiver === 'carol/10004'), false, 'alice has a receiver for carol’s messages to bob');
  console.log('directed: browser → native, browser → browser (also after setParticipants), native → browser; nobody else got them');

  // A sender closes after its messages: its receivers close with sender_closed, after the
  // last message. Browser → browser and native, then native → browsers.
  await alice.evaluate(() => T.senders[10000].close());
  await waitPage(bob, () => T.log.some((l) => l.close === 'alice/10000'), undefined, 'alice/10000 closed');
  await carol.next((e) => e.event === 'receiver_closed' && e.from === 'alice' && e.channelId === 10000, "alice's sender closed");
  assert.deepEqual((await pageLog(bob)).find((l) => l.close === 'alice/10000'), { close: 'alice/10000', reason: 'sender_closed', after: N });
  assert.equal(carol.events.find((e) => e.event === 'receiver_closed' && e.from === 'alice' && e.channelId === 10000).reason, 'sender_closed');
  const closedCode = await alice.evaluate(() => T.senders[10000].sendMessage(new Uint8Array([1])).then(() => 'sent', (e) => e.code));
  assert.equal(closedCode, 'SENDER_CLOSED', 'sendMessage on a closed sender');

  const carolMore = await agentSendTexts(carol, 10000, 'carol', N, 5);
  assert.deepEqual(carolMore, range(N + 1, 5));
  await carol.request({ op: 'close', channelId: 10000 });
  for (const page of [alice, bob]) {
    await waitPage(page, () => T.log.some((l) => l.close === 'carol/10000'), undefined, 'carol/10000 closed');
    assert.deepEqual((await pageLog(page)).find((l) => l.close === 'carol/10000'), { close: 'carol/10000', reason: 'sender_closed', after: N + 5 });
    assert.deepEqual(await pageGot(page, 'carol/10000'), expected('carol', 0, [...cSeqs, ...carolMore]));
  }
  await assert.rejects(carol.request({ op: 'send', channelId: 10000, text: 'late' }), /SENDER_CLOSED/);
  console.log('sender close: browser → browser and native, native → browsers: sender_closed after the last message');

  // Leaving: bob (a browser, senders 10000 and 10003 open) leaves; then carol (native,
  // sender 10004 open to bob, and 10005 to everyone) leaves.
  await carol.request({ op: 'create_sender', channelId: 10005, reliability: 'durable' });
  await agentSendTexts(carol, 10005, 'c5', 0, 3);
  await waitPageGot(alice, 'carol/10005', 3, "carol's 10005");
  await bob.evaluate(() => T.call.leave());
  await waitPage(alice, () => T.log.some((l) => l.left === 'bob'), undefined, 'bob left');
  await waitPage(alice, () => T.log.filter((l) => l.close?.startsWith('bob/')).length >= 2, undefined, "bob's receivers closed");
  await carol.next((e) => e.event === 'participant_left' && e.user === 'bob', 'bob left');
  await carol.next((e) => e.event === 'receiver_closed' && e.from === 'bob', "bob's receiver closed");
  const aliceLog = await pageLog(alice);
  assert.deepEqual(aliceLog.filter((l) => l.close?.startsWith('bob/')).sort((x, y) => x.close.localeCompare(y.close)), [
    { close: 'bob/10000', reason: 'participant_left', after: N },
    { close: 'bob/10003', reason: 'participant_left', after: 20 },
  ]);
  assert.deepEqual(carol.events.filter((e) => e.event === 'receiver_closed' && e.from === 'bob'), [
    { event: 'receiver_closed', channelId: 10000, from: 'bob', reason: 'participant_left' },
  ]);
  assert.deepEqual(await alice.evaluate(() => T.call.participants.map((p) => p.identity)), ['carol']);
  const carolParticipants = await carol.request({ op: 'participants' });
  assert.deepEqual(carolParticipants.participants.map((p) => p.user), ['alice']);

  assert.equal(await carol.leave(), 0, 'the agent exits 0 after leave');
  await waitPage(alice, () => T.log.some((l) => l.left === 'carol'), undefined, 'carol left');
  await waitPage(alice, () => T.log.some((l) => l.close === 'carol/10005'), undefined, "carol's receiver closed");
  assert.deepEqual((await pageLog(alice)).find((l) => l.close === 'carol/10005'), { close: 'carol/10005', reason: 'participant_left', after: 3 });
  assert.deepEqual(await alice.evaluate(() => T.call.participants), []);
  const disconnected = (await pageLog(alice)).filter((l) => l.disconnected);
  assert.deepEqual(disconnected, [], 'alice stayed connected');
  await alice.evaluate(() => T.call.leave());
  await alice.context().close();
  await bob.context().close();
  console.log('leave: browser → browser and native, native → browser: participant_left, receivers closed with participant_left');
}


// ---- 2. 20 MB each way between a browser and a native agent, by the file-transfer
// convention of docs/protocol.md (channel 10001). The browser runs the SDK's FileTransfer
// (web/src/files); the native side of the protocol is written here, over the agent's
// base64 `send` commands and `message` events. Both transfers run at the same time.
const FILE_CHANNEL = 10001;
const KIND = { offer: 1, accept: 2, chunk: 3, done: 4, progress: 5, cancel: 6 };
const CHUNK = 64 * 1024;
const MiB = 1024 * 1024;
const withJson = (kind, json) => Buffer.concat([Buffer.from([kind]), Buffer.from(JSON.stringify(json))]);

// FileTransfer for the page: esbuild bundles web/src/files into one script (window.SBFiles).
async function filesScript() {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [join(web, 'src/files/fileTransfer.ts')],
    bundle: true,
    format: 'iife',
    globalName: 'SBFiles',
    target: 'es2022',
    platform: 'browser',
    write: false,
    logLevel: 'warning',
  });
  return result.outputFiles[0].text;
}

// The native participant's side of the convention: one durable sender on 10001 whose
// messages go out one at a time (waiting on BUFFER_FULL), a receiver of everything on 10001.
class NativeFiles {
  constructor(agent, peer) {
    this.agent = agent;
    this.peer = peer;
    this.tail = Promise.resolve();
    this.incoming = undefined; // { offer, hash, received, reported, done }
    this.outgoing = undefined; // { id, size, accepted, progress: [], delivered }
    this.problems = [];
    this.sent = 0;
    agent.onEvent((e) => {
      if (e.event === 'error' && e.req === undefined) this.problems.push(`agent error: ${e.code} ${e.message}`);
      if (e.event === 'message' && e.channelId === FILE_CHANNEL && e.from === peer) {
        try {
          this.handle(Buffer.from(e.base64, 'base64'));
        } catch (err) {
          this.problems.push(String(err.stack ?? err));
        }
      }
    });
  }
  async open() {
    await this.agent.request({ op: 'create_sender', channelId: FILE_CHANNEL, reliability: 'durable', participants: [this.peer] });
  }
  send(bytes) {
    const run = async () => {
      for (;;) {
        try {
          const sent = await this.agent.request({ op: 'send', channelId: FILE_CHANNEL, base64: bytes.toString('base64') });
          if (process.env.VERBOSE && bytes[0] !== KIND.chunk) console.log(`[files] to ${this.peer}: kind ${bytes[0]} seq ${sent.sequenceNumber} ${bytes.subarray(1, 120).toString()}`);
          return sent;
        } catch (e) {
          // Both refuse the message before it is sent: wait and send it again. A 20 MB file
          // through the server runs into the call's default rate limit (12.5 MB/s).
          if (e.code === 'TRAFFIC_LIMITED') {
            this.trafficLimited = (this.trafficLimited ?? 0) + 1;
            await sleep(50);
            continue;
          }
          if (e.code !== 'BUFFER_FULL') throw e;
          this.bufferFull = (this.bufferFull ?? 0) + 1;
          await sleep(5);
        }
      }
    };
    const result = this.tail.then(run);
    this.tail = result.catch(() => {});
    return result;
  }
  handle(data) {
    const kind = data[0];
    if (process.env.VERBOSE && kind !== KIND.chunk) console.log(`[files] from ${this.peer}: kind ${kind} ${data.subarray(1, 200).toString()}`);
    if (kind === KIND.chunk) {
      const t = this.incoming;
      assert.ok(t?.accepted, 'a CHUNK before we accepted');
      assert.equal(data.subarray(1, 17).toString('hex'), t.offer.id, 'CHUNK of another transfer');
      const offset = Number(data.readBigUInt64BE(17));
      const body = data.subarray(25);
      assert.equal(offset, t.received, 'CHUNK offsets follow each other exactly');
      assert.ok(body.length > 0 && body.length <= CHUNK, `CHUNK of ${body.length} bytes`);
      t.hash.update(body);
      t.received += body.length;
      t.chunks++;
      if (t.received - t.reported >= MiB && t.received < t.offer.size) {
        t.reported = t.received;
        void this.send(withJson(KIND.progress, { id: t.offer.id, offset: t.received }));
      }
      return;
    }
    const json = JSON.parse(data.subarray(1).toString('utf8'));
    switch (kind) {
      case KIND.offer: {
        assert.equal(this.incoming, undefined, 'one offer expected');
        assert.match(json.id, /^[0-9a-f]{32}$/);
        assert.match(json.sha256, /^[0-9a-f]{64}$/);
        this.incoming = { offer: json, hash: createHash('sha256'), received: 0, reported: 0, chunks: 0, accepted: true };
        this.incoming.done = new Promise((resolve) => (this.incoming.resolve = resolve));
        void this.send(withJson(KIND.accept, { id: json.id, offset: 0 }));
        return;
      }
      case KIND.done: {
        const t = this.incoming;
        assert.equal(json.id, t.offer.id);
        assert.equal(t.received, t.offer.size, 'DONE after every byte');
        t.sha256 = t.hash.digest('hex');
        assert.equal(t.sha256, t.offer.sha256, "the bytes' SHA-256 is the offer's");
        void this.send(withJson(KIND.progress, { id: t.offer.id, offset: t.offer.size }));
        t.resolve(t);
        return;
      }
      case KIND.accept:
        assert.equal(json.id, this.outgoing.id);
        assert.equal(json.offset, 0, 'a fresh transfer is accepted from byte 0');
        this.outgoing.accept(json);
        return;
      case KIND.progress:
        assert.equal(json.id, this.outgoing.id);
        this.outgoing.progress.push(json.offset);
        if (json.offset === this.outgoing.size) this.outgoing.deliver();
        return;
      case KIND.cancel:
        this.problems.push(`CANCEL from ${this.peer}: ${JSON.stringify(json)}`);
        return;
      default:
        this.problems.push(`unknown kind ${kind}`);
    }
  }
  // Offers `content` to the peer, streams it once accepted; resolves on the final PROGRESS.
  async sendFile(content, name) {
    const id = randomBytes(16).toString('hex');
    const sha256 = createHash('sha256').update(content).digest('hex');
    const out = { id, size: content.length, progress: [] };
    this.outgoing = out;
    const accepted = new Promise((resolve) => (out.accept = resolve));
    out.delivered = new Promise((resolve) => (out.deliver = resolve));
    await this.send(withJson(KIND.offer, { id, name, size: content.length, sha256, mime: 'application/octet-stream' }));
    await accepted;
    const header = Buffer.alloc(25);
    header[0] = KIND.chunk;
    Buffer.from(id, 'hex').copy(header, 1);
    for (let at = 0; at < content.length; at += CHUNK) {
      header.writeBigUInt64BE(BigInt(at), 17);
      await this.send(Buffer.concat([header, content.subarray(at, at + CHUNK)]));
    }
    await this.send(withJson(KIND.done, { id }));
    await out.delivered;
    return { id, sha256 };
  }
}

async function files() {
  const callId = 'web-sdk-files';
  const SIZE = 20 * 1000 * 1000 + 12345; // not a multiple of the chunk size
  const alice = await newPage(browser, server.http, 'alice');
  await alice.addScriptTag({ content: await filesScript() });
  await alice.evaluate(() => T.others.add(10001));
  await joinPage(alice, callId, 'alice', { p2p: false });
  const erin = new Agent(agentBinary, server.url, callId, 'erin', { p2p: false, keepMessages: false });
  await erin.next((e) => e.event === 'joined', 'erin joined');
  await waitPage(alice, () => T.call.participants.some((p) => p.identity === 'erin'), undefined, 'erin in the call');
  const native = new NativeFiles(erin, 'alice');
  await native.open();

  // The page makes 20 MB of random bytes, hashes them with WebCrypto, and will accept
  // whatever is offered to it, hashing the result with WebCrypto too.
  const upload = await alice.evaluate(async (size) => {
    const data = new Uint8Array(size);
    for (let at = 0; at < size; at += 65536) crypto.getRandomValues(data.subarray(at, Math.min(size, at + 65536)));
    const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
    T.hex = hex;
    T.upload = { data, sha256: hex(await crypto.subtle.digest('SHA-256', data)) };
    T.files = new SBFiles.FileTransfer(T.call);
    T.fileEvents = [];
    T.files.on('offer', (f) => {
      T.fileEvents.push({ offer: f.name, size: f.size, from: f.from });
      f.on('error', (e) => T.fileEvents.push({ incomingError: `${e.code} ${e.message}` }));
      f.on('done', async (blob) => {
        const bytes = await blob.arrayBuffer();
        T.download = { name: f.name, size: bytes.byteLength, sha256: hex(await crypto.subtle.digest('SHA-256', bytes)), offered: f.sha256 };
      });
      f.accept();
    });
    return { sha256: T.upload.sha256, size };
  }, SIZE);

  const download = randomBytes(SIZE);
  const downloadSha = createHash('sha256').update(download).digest('hex');
  const t0 = Date.now();
  const uploadOffer = alice.evaluate(() => {
    const out = T.files.sendFile(T.upload.data, ['erin'], { name: 'from-browser.bin' });
    T.uploadFile = out;
    out.on('error', (who, e) => T.fileEvents.push({ outgoingError: `${who} ${e.code} ${e.message}` }));
    return new Promise((resolve) => out.on('delivered', (who) => resolve({ who, status: out.status(who) })));
  });
  const downloadDone = native.sendFile(download, '../../etc/to-browser.bin');
  // A problem on the native side (an assertion in its handler, an agent error, a CANCEL)
  // fails the scenario at once instead of at a timeout.
  let finished = false;
  const failFast = until(() => finished || native.problems.length > 0, 'a problem', 300000, 100).then(() => {
    if (!finished) throw new Error(`native side: ${native.problems.join('; ')}`);
  });
  for (const p of [uploadOffer, downloadDone, failFast]) p.catch(() => {}); // awaited below, or moot after a failure
  try {
    const uploaded = await Promise.race([
      (async () => {
        await until(() => native.incoming, 'the offer from alice', 30000);
        return native.incoming.done;
      })(),
      failFast,
    ]);
    const uploadSeconds = (Date.now() - t0) / 1000;
    assert.equal(uploaded.offer.name, 'from-browser.bin');
    assert.equal(uploaded.offer.size, SIZE);
    assert.equal(uploaded.received, SIZE);
    assert.equal(uploaded.sha256, upload.sha256, "erin's SHA-256 of what arrived is WebCrypto's of what the page sent");
    assert.equal(uploaded.chunks, Math.ceil(SIZE / CHUNK), 'chunks of 64 KiB');
    const delivered = await Promise.race([uploadOffer, failFast]);
    assert.equal(delivered.who, 'erin');
    assert.equal(delivered.status.state, 'delivered');
    assert.equal(delivered.status.confirmed, SIZE);
    console.log(`browser → native: ${SIZE} bytes in ${uploaded.chunks} chunks, SHA-256 ${upload.sha256.slice(0, 16)}… matches (${uploadSeconds.toFixed(1)} s)`);

    await Promise.race([downloadDone, failFast]);
    await waitPage(alice, () => T.download, undefined, 'the download hashed', 60000);
    const got = await alice.evaluate(() => T.download);
    assert.deepEqual(got, { name: 'to-browser.bin', size: SIZE, sha256: downloadSha, offered: downloadSha }, "the page's file is erin's, byte for byte");
    assert.deepEqual(native.outgoing.progress.at(-1), SIZE);
    assert.ok(native.outgoing.progress.length >= Math.floor(SIZE / MiB), `PROGRESS at least every MiB (got ${native.outgoing.progress.length})`);
    assert.deepEqual([...native.outgoing.progress].sort((a, b) => a - b), native.outgoing.progress, 'PROGRESS only grows');
    const events = await alice.evaluate(() => T.fileEvents);
    assert.deepEqual(events, [{ offer: 'to-browser.bin', size: SIZE, from: 'erin' }], 'no errors in the page');
    assert.deepEqual(native.problems, []);
    console.log(`native → browser: ${SIZE} bytes, SHA-256 ${downloadSha.slice(0, 16)}… matches; both ways in ${((Date.now() - t0) / 1000).toFixed(1)} s` +
      ` (agent BUFFER_FULL retries: ${native.bufferFull ?? 0})`);
  } finally {
    finished = true;
  }
  await alice.evaluate(() => T.call.leave());
  assert.equal(await erin.leave(), 0);
  await alice.context().close();
}

// ---- 2b. The browser's FileTransfer (the SDK's, as served at /sdk/switchboard.js) and the
// real command line: `switchboard receive` takes a 5 MB file from the page into a
// directory, then `switchboard send` sends one to the page. SHA-256 compared on both ends.
function runCli(args, what) {
  const child = spawn(agentBinary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  cliChildren.add(child);
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  if (process.env.VERBOSE) child.stdout.on('data', (d) => process.stdout.write(`[${what}] ${d}`));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  cliOutputs.set(child, { what, output: () => output });
  return { child, exited, output: () => output };
}
const cliChildren = new Set();
const cliOutputs = new Map(); // child -> { what, output }: what the watchdog shows of a hang
process.on('exit', () => {
  for (const child of cliChildren) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function filesCli() {
  const callId = 'web-sdk-files-cli';
  const SIZE = 5 * 1000 * 1000 + 777; // not a multiple of the chunk size
  const dir = mkdtempSync(join(tmpdir(), 'sb-files-cli-'));
  const common = (user) => ['--server', server.url, '--call', callId, '--user', user, '--dev', '--p2p', 'off'];
  try {
    const alice = await newPage(browser, server.http, 'alice');
    await alice.evaluate(() => T.others.add(10001));
    await joinPage(alice, callId, 'alice', { p2p: false });
    await alice.evaluate(() => {
      T.hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
      T.files = new T.sb.FileTransfer(T.call);
      T.fileEvents = [];
      T.files.on('offer', (f) => {
        T.fileEvents.push({ offer: f.name, size: f.size, from: f.from });
        f.on('error', (e) => T.fileEvents.push({ incomingError: `${e.code} ${e.message}` }));
        f.on('done', async (blob) => {
          const bytes = await blob.arrayBuffer();
          T.download = { name: f.name, size: bytes.byteLength, sha256: T.hex(await crypto.subtle.digest('SHA-256', bytes)), offered: f.sha256 };
        });
        f.accept();
      });
    });

    // (a) browser → `switchboard receive --accept-all --count 1`.
    const inbox = join(dir, 'inbox');
    const receiver = runCli(['receive', ...common('nrecv'), '--dir', inbox, '--accept-all', '--count', '1'], 'receive');
    await waitPage(alice, () => T.call.participants.some((p) => p.identity === 'nrecv'), undefined, 'switchboard receive in the call');
    const t0 = Date.now();
    const upload = await alice.evaluate(async (size) => {
      const data = new Uint8Array(size);
      for (let at = 0; at < size; at += 65536) crypto.getRandomValues(data.subarray(at, Math.min(size, at + 65536)));
      const sha256 = T.hex(await crypto.subtle.digest('SHA-256', data));
      const out = T.files.sendFile(data, ['nrecv'], { name: 'from-browser.bin' });
      out.on('error', (who, e) => T.fileEvents.push({ outgoingError: `${who} ${e.code} ${e.message}` }));
      T.delivered = new Promise((resolve) => out.on('delivered', (who) => resolve({ who, status: out.status(who) })));
      return { sha256 };
    }, SIZE);
    const receiveCode = await Promise.race([receiver.exited, sleep(120000).then(() => 'timeout')]);
    assert.equal(receiveCode, 0, `switchboard receive exit status; output:\n${receiver.output()}`);
    const written = readFileSync(join(inbox, 'from-browser.bin'));
    assert.equal(written.length, SIZE);
    assert.equal(createHash('sha256').update(written).digest('hex'), upload.sha256, "the file switchboard receive wrote is the page's, byte for byte");
    assert.match(receiver.output(), /received 1 file, 0 failed, 0 unfinished/);
    const delivered = await alice.evaluate(() => T.delivered);
    assert.equal(delivered.who, 'nrecv');
    assert.equal(delivered.status.state, 'delivered');
    assert.equal(delivered.status.confirmed, SIZE);
    console.log(`browser → switchboard receive: ${SIZE} bytes, SHA-256 ${upload.sha256.slice(0, 16)}… matches (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

    // (b) `switchboard send FILE --to alice` → the browser.
    const download = randomBytes(SIZE);
    const downloadSha = createHash('sha256').update(download).digest('hex');
    const file = join(dir, 'to-browser.bin');
    writeFileSync(file, download);
    const t1 = Date.now();
    const sender = runCli(['send', file, '--to', 'alice', ...common('nsend'), '--timeout', '120'], 'send');
    const sendCode = await Promise.race([sender.exited, sleep(150000).then(() => 'timeout')]);
    assert.equal(sendCode, 0, `switchboard send exit status; output:\n${sender.output()}`);
    assert.match(sender.output(), /sent 1 file: 1 delivered, 0 failed or declined, 0 unfinished/);
    await waitPage(alice, () => T.download, undefined, 'the download hashed', 60000);
    const got = await alice.evaluate(() => T.download);
    assert.deepEqual(got, { name: 'to-browser.bin', size: SIZE, sha256: downloadSha, offered: downloadSha }, "the page's file is the one switchboard send sent");
    assert.deepEqual(await alice.evaluate(() => T.fileEvents), [{ offer: 'to-browser.bin', size: SIZE, from: 'nsend' }], 'no errors in the page');
    console.log(`switchboard send → browser: ${SIZE} bytes, SHA-256 ${downloadSha.slice(0, 16)}… matches (${((Date.now() - t1) / 1000).toFixed(1)} s)`);
    await alice.evaluate(() => T.call.leave());
    await alice.context().close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- 3. A 1:1 call between a browser and a native agent goes peer-to-peer: both say so,
// messages go both ways, and the server relays none of them. A third participant then
// brings the call back to the server, where the same counter moves.
const RELAYED = 'switchboard_relayed_messages_total';

async function p2p() {
  const callId = 'web-sdk-p2p';
  const N = 300;
  const BIG = 200 * 1000;
  const alice = await newPage(browser, server.http, 'alice');
  const joined = await joinPage(alice, callId, 'alice', { p2p: true });
  assert.equal(joined.transport.mode, 'server', 'alone in the call: through the server');
  const dave = new Agent(agentBinary, server.url, callId, 'dave', { p2p: true });
  await dave.next((e) => e.event === 'joined', 'dave joined');
  const daveDirect = await dave.next((e) => e.event === 'transport', 'dave’s transport event', 30000);
  assert.deepEqual(daveDirect, { event: 'transport', mode: 'p2p', peer: 'alice' });
  await waitPage(alice, () => T.call.transport.mode === 'p2p', undefined, 'the browser goes peer-to-peer', 30000);
  const transport = await alice.evaluate(() => ({ now: T.call.transport, log: T.log.filter((l) => l.transport) }));
  assert.equal(transport.now.peer?.identity, 'dave');
  assert.deepEqual(transport.log, [{ transport: 'p2p', peer: 'dave' }], "one 'transportChanged' to p2p with dave");
  await sleep(300);
  const before = await server.metric(RELAYED);

  // Both ways at once: N texts, then three 200 kB messages (fragmented) each way.
  await dave.request({ op: 'create_sender', channelId: 10000, reliability: 'durable' });
  const bigOf = (who, i) => Buffer.alloc(BIG, `${who}-big-${i}|`);
  const [aSeqs, dSeqs] = await Promise.all([
    alice.evaluate(async ([n, big]) => {
      const seqs = await T.sendTexts(10000, 'alice', 0, n);
      for (let i = 0; i < 3; i++) {
        const pattern = new TextEncoder().encode(`alice-big-${i}|`);
        const data = new Uint8Array(big);
        for (let j = 0; j < big; j++) data[j] = pattern[j % pattern.length];
        seqs.push(await T.sender(10000).sendMessage(data));
      }
      return seqs;
    }, [N, BIG]),
    (async () => {
      const seqs = await agentSendTexts(dave, 10000, 'dave', 0, N);
      for (let i = 0; i < 3; i++) seqs.push((await dave.request({ op: 'send', channelId: 10000, base64: bigOf('dave', i).toString('base64') })).sequenceNumber);
      return seqs;
    })(),
  ]);
  assert.deepEqual(aSeqs, range(1, N + 3));
  assert.deepEqual(dSeqs, range(1, N + 3));
  await waitPageGot(alice, 'dave/10000', N + 3, "dave's messages");
  await until(() => dave.messages(10000, 'alice').length >= N + 3, "dave got alice's messages");
  await sleep(300);
  const aliceGot = await alice.evaluate(() => T.got['dave/10000'].map(([seq, text]) => [seq, text.length > 100 ? `${text.slice(0, 20)}…${text.length}` : text]));
  const bigText = (who, i) => `${bigOf(who, i).toString().slice(0, 20)}…${BIG}`;
  assert.deepEqual(aliceGot, [...expected('dave', 0, dSeqs.slice(0, N)), ...[0, 1, 2].map((i) => [N + 1 + i, bigText('dave', i)])], 'native → browser, direct');
  const daveGot = dave.messages(10000, 'alice');
  assert.deepEqual(daveGot.slice(0, N).map((e) => [e.sequenceNumber, e.text]), expected('alice', 0, aSeqs.slice(0, N)), 'browser → native, direct');
  daveGot.slice(N).forEach((e, i) => {
    assert.equal(e.sequenceNumber, N + 1 + i);
    assert.ok(Buffer.from(e.base64, 'base64').equals(bigOf('alice', i)), `alice's big message ${i} intact`);
  });
  const after = await server.metric(RELAYED);
  assert.equal(after, before, `the server relayed ${after - before} messages of a peer-to-peer call`);
  assert.equal(dave.events.filter((e) => e.event === 'transport').length, 1, 'dave stayed direct');
  assert.deepEqual((await pageLog(alice)).filter((l) => l.transport).length, 1, 'alice stayed direct');
  console.log(`p2p: both sides report p2p; ${N} texts and 3 × ${BIG} B each way, in order; ${RELAYED} unchanged (${after})`);

  // A third participant: both go back to the server, and the counter moves as they send.
  const frank = new Agent(agentBinary, server.url, callId, 'frank', { p2p: true });
  await frank.next((e) => e.event === 'joined', 'frank joined');
  await dave.next(() => dave.events.filter((e) => e.event === 'transport').length >= 2, 'dave back on the server', 30000);
  assert.deepEqual(dave.events.filter((e) => e.event === 'transport')[1], { event: 'transport', mode: 'server' });
  await waitPage(alice, () => T.call.transport.mode === 'server', undefined, 'the browser back on the server', 30000);
  const more = await alice.evaluate(() => T.sendTexts(10000, 'alice', 300, 10));
  assert.deepEqual(more, range(N + 4, 10), 'the sender numbers on across the path change');
  await until(() => dave.messages(10000, 'alice').length >= N + 13 && frank.messages(10000, 'alice').length >= 10, 'dave and frank got the messages');
  assert.deepEqual(agentGot(frank, 10000, 'alice'), expected('alice', 300, more));
  assert.deepEqual(agentGot(dave, 10000, 'alice').slice(N + 3), expected('alice', 300, more));
  const relayed = (await server.metric(RELAYED)) - after;
  assert.ok(relayed >= 10, `through the server now: ${relayed} relayed`);
  console.log(`three participants: back on the server, sequence numbers carry on, ${relayed} relayed`);
  frank.kill();
  await alice.evaluate(() => T.call.leave());
  assert.equal(await dave.leave(), 0);
  await alice.context().close();
}

// ---- 4. The demo app's own flow (web/demo, served at /): two people join the same call by
// its name with pasted tokens (this server mints no dev tokens), go peer-to-peer, chat both
// ways; a native participant joins (back through the server) and chats on the same channel.
// Screenshots go to web/test-results/ (SWITCHBOARD_TEST_ARTIFACTS).
async function joinDemo(user, callId, passphrase) {
  const page = await newPage(browser, server.http, user);
  await page.goto(`${server.http}/?call=${callId}&user=${user}`);
  await page.fill('input[name=name]', user.toUpperCase());
  await page.fill('input[name=token]', token(user, callId));
  if (passphrase) await page.fill('input[name=passphrase]', passphrase);
  assert.equal(await page.inputValue('input[name=call]'), callId);
  assert.equal(await page.inputValue('input[name=server]'), server.url, 'the demo joins the server it came from');
  await page.click('#join button[type=submit]');
  await page.waitForSelector('#call:not([hidden])', { timeout: 15000 }).catch(async (e) => {
    throw new Error(`${user} did not get into the call: ${await page.locator('#join-error').innerText()} (${e.message})`);
  });
  return page;
}
const chatLog = (page) => page.locator('#log').innerText();
async function waitChat(page, text, what) {
  await waitPage(page, (t) => document.getElementById('log').innerText.includes(t), text, what, 15000);
}

async function demo() {
  const callId = 'web-sdk-demo';
  const alice = await joinDemo('alice', callId);
  const bob = await joinDemo('bob', callId);
  await waitChat(alice, 'BOB', 'bob joined');
  await waitPage(alice, () => document.getElementById('transport').textContent.includes('peer-to-peer'), undefined, 'the peer-to-peer badge');
  await waitPage(bob, () => document.getElementById('transport').textContent.includes('peer-to-peer'), undefined, 'the peer-to-peer badge');

  await alice.fill('#line', 'hello bob, from the demo');
  await alice.click('#chat button');
  await waitChat(bob, 'hello bob, from the demo', "alice's line in bob's page");
  await bob.fill('#line', 'hi alice!');
  await bob.press('#line', 'Enter');
  await waitChat(alice, 'hi alice!', "bob's line in alice's page");
  const bobLine = (await chatLog(bob)).split('\n').find((l) => l.includes('hello bob, from the demo'));
  assert.match(bobLine, /ALICE.*: hello bob, from the demo$/, 'the line names its sender');
  assert.equal((await chatLog(alice)).split('\n').filter((l) => l.includes('hello bob, from the demo')).length, 1, 'alice sees her own line once');

  // A native participant on the chat channel: the call goes back through the server.
  const gus = new Agent(agentBinary, server.url, callId, 'gus');
  await gus.next((e) => e.event === 'joined', 'gus joined');
  await waitPage(alice, () => document.getElementById('transport').textContent.includes('through the server'), undefined, 'the server badge');
  await gus.request({ op: 'create_sender', channelId: 10000, reliability: 'durable' });
  await gus.request({ op: 'send', channelId: 10000, text: 'gus here, from the command line' });
  await waitChat(alice, 'gus here, from the command line', "gus's line in alice's page");
  await waitChat(bob, 'gus here, from the command line', "gus's line in bob's page");
  await alice.fill('#line', 'welcome gus');
  await alice.click('#chat button');
  const welcome = await gus.next((e) => e.event === 'message' && e.channelId === 10000 && e.from === 'alice', "alice's line at gus");
  assert.equal(welcome.text, 'welcome gus');
  await waitChat(bob, 'welcome gus', "alice's line in bob's page");

  mkdirSync(artifacts, { recursive: true });
  for (const [name, page] of [['alice', alice], ['bob', bob]]) {
    const path = join(artifacts, `web-sdk-demo-${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`screenshot: ${path}`);
  }
  console.log('demo: two pages joined the call by name, went peer-to-peer, chatted both ways; a native agent chatted with them through the server');
  assert.equal(await gus.leave(), 0);
  await waitPage(alice, () => /GUS \(gus\) left/.test(document.getElementById('log').innerText), undefined, 'gus left');
  await alice.click('#leave');
  await waitPage(bob, () => /ALICE \(alice\) left/.test(document.getElementById('log').innerText), undefined, 'alice left');
  await alice.context().close();
  await bob.context().close();
}

// ---- 5. End-to-end encryption (docs/protocol.md): a browser and a native agent sharing a
// key file talk both ways through a server run with --trace-frames; a browser holding
// another key gets DECRYPTION_FAILED errors, never messages; a native agent without E2EE
// sees only sealed bytes, and its plaintext reaches the browser as an error. After the
// browser rotates to a key the agent lacks, the agent's messages still open at the
// browser and the browser's fail at the agent. The trace holds the control marker in the
// clear and never the secret. Then a 1:1 call with both sealing, peer-to-peer.
const hex = (s) => Buffer.from(s).toString('hex');
const bytePattern = (size) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + 7) & 255));

async function e2ee() {
  const callId = 'web-sdk-e2ee';
  const N = 50;
  const SECRET = 'ZEBRA-CROSSING-7319';
  const MARKER = 'PLAINTEXT-CONTROL-MARKER';
  const dir = mkdtempSync(join(tmpdir(), 'sb-web-e2ee-'));
  const trace = join(dir, 'frames.trace');
  const shared = '# the team\n1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n2:passphrase:tulip seven lantern\n';
  const other = '2:ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=\n';
  const keyFile = join(dir, 'shared.keys');
  writeFileSync(keyFile, shared);
  const traced = await startServer(serverBinary, { bind, webRoot, extra: ['--trace-frames', trace] });
  try {
    // The pages come from the scenario's secure origin (WebCrypto) and join the traced server.
    const joinTraced = (page, user, e2eeKeys) =>
      page.evaluate((o) => T.join(o), { server: traced.url, callId, token: token(user, callId), p2p: false, e2eeKeys });
    const alice = await newPage(browser, server.http, 'alice');
    const dave = await newPage(browser, server.http, 'dave');
    await joinTraced(alice, 'alice', shared);
    await joinTraced(dave, 'dave', other);
    const bob = new Agent(agentBinary, traced.url, callId, 'bob', { p2p: false, extra: ['--e2ee-key-file', keyFile] });
    await bob.next((e) => e.event === 'joined', 'bob joined');
    const erin = new Agent(agentBinary, traced.url, callId, 'erin', { p2p: false });
    await erin.next((e) => e.event === 'joined', 'erin joined');
    await waitPage(alice, () => ['bob', 'dave', 'erin'].every((u) => T.log.some((l) => l.joined === u)), undefined, 'everyone joined');
    await waitPage(dave, () => ['bob', 'erin'].every((u) => T.log.some((l) => l.joined === u)), undefined, 'everyone joined');
    await bob.next((e) => e.event === 'participant_joined' && e.user === 'erin', 'erin joined, at bob');

    // The browser's limit leaves room for the 33 bytes of sealing.
    const limits = await alice.evaluate(async () => {
      const s = T.sender(10000);
      const code = await s.sendMessage(new Uint8Array(s.maxMessageSize + 1)).then(() => 'sent', (e) => e.code);
      return { max: s.maxMessageSize, code };
    });
    assert.deepEqual(limits, { max: 262144 - 33, code: 'MESSAGE_TOO_LARGE' });

    // Browser → native: N messages started at once (sealing must keep their order), then
    // one of 100,000 bytes (sealed whole, then fragmented).
    const aSeqs = await alice.evaluate(
      ([n, secret]) => {
        const s = T.sender(10000);
        const enc = new TextEncoder();
        return Promise.all(Array.from({ length: n }, (_, i) => s.sendMessage(enc.encode(`${secret} web-${i}`))));
      },
      [N, SECRET],
    );
    assert.deepEqual(aSeqs, range(1, N));
    const bigSeq = await alice.evaluate(() => T.sender(10000).sendMessage(Uint8Array.from({ length: 100000 }, (_, i) => (i * 31 + 7) & 255)));
    await until(() => bob.messages(10000, 'alice').length >= N + 1, "alice's sealed messages at bob");
    assert.deepEqual(agentGot(bob, 10000, 'alice').slice(0, N), expected(`${SECRET} web`, 0, aSeqs), 'browser → native, opened in order');
    const big = bob.messages(10000, 'alice')[N];
    assert.equal(big.sequenceNumber, bigSeq);
    assert.equal(big.size, 100000);
    assert.equal(big.base64, bytePattern(100000).toString('base64'), 'a fragmented sealed message opens byte for byte');
    console.log(`browser → native: ${N} messages sent at once and one of 100,000 bytes, opened in order by the agent`);

    // Native → browser.
    await bob.request({ op: 'create_sender', channelId: 10000, reliability: 'durable' });
    const bSeqs = await agentSendTexts(bob, 10000, `${SECRET} native`, 0, N);
    await waitPageGot(alice, 'bob/10000', N, "bob's sealed messages");
    await sleep(300);
    assert.deepEqual(await pageGot(alice, 'bob/10000'), expected(`${SECRET} native`, 0, bSeqs), 'native → browser, opened in order');
    assert.deepEqual((await pageLog(alice)).filter((l) => l.error), [], 'alice opened everything');
    console.log(`native → browser: ${N} messages opened in order by the Web SDK`);

    // Dave's browser holds another key 2: an error per message, no message.
    await waitPage(dave, (n) => T.log.filter((l) => l.error === 'alice/10000').length >= n + 1 && T.log.filter((l) => l.error === 'bob/10000').length >= n, N, 'DECRYPTION_FAILED at dave');
    const daveLog = await pageLog(dave);
    for (const from of ['alice', 'bob']) {
      const errors = daveLog.filter((l) => l.error === `${from}/10000`);
      assert.ok(errors.every((l) => l.code === 'DECRYPTION_FAILED'), JSON.stringify(errors[0]));
      assert.match(errors[0].message, new RegExp(`^message 1 on channel 10000 from ${from} could not be opened: its authentication tag does not match`));
      assert.deepEqual(await pageGot(dave, `${from}/10000`), [], `dave read ${from}'s messages without the key`);
    }
    console.log(`wrong key in the browser: ${2 * N + 1} × DECRYPTION_FAILED, nothing readable`);

    // Erin has no E2EE: sealed bytes only; her plaintext is an error at alice.
    await until(() => erin.messages(10000, 'alice').length >= N, "alice's messages at erin");
    const opaque = erin.messages(10000, 'alice')[0];
    assert.equal(opaque.size, `${SECRET} web-0`.length + 33);
    assert.ok(!JSON.stringify(opaque).includes('ZEBRA'), 'erin read the plaintext');
    await erin.request({ op: 'create_sender', channelId: 20000, reliability: 'durable', participants: ['alice'] });
    await erin.request({ op: 'send', channelId: 20000, text: MARKER });
    await waitPage(alice, () => T.log.some((l) => l.error === 'erin/20000'), undefined, "the error for erin's plaintext");
    const refused = (await pageLog(alice)).find((l) => l.error === 'erin/20000');
    assert.equal(refused.code, 'DECRYPTION_FAILED');
    assert.match(refused.message, /not a sealed message/);
    assert.deepEqual(await pageGot(alice, 'erin/20000'), [], 'a message that does not open is never readable');

    // Rotation in the browser to key 3, which bob lacks.
    await alice.evaluate((text) => T.sb.E2eeKeys.parse(text, T.call.id).then((k) => T.call.setE2eeKeys(k)), `${shared}3:passphrase:a newer key\n`);
    const [rotated] = await alice.evaluate((secret) => T.sendTexts(10000, `${secret} rotated`, 0, 1), SECRET);
    const lacking = await bob.next((e) => e.event === 'error' && e.code === 'DECRYPTION_FAILED' && e.from === 'alice', 'DECRYPTION_FAILED at bob');
    assert.equal(lacking.channelId, 10000);
    assert.match(lacking.message, new RegExp(`^message ${rotated} on channel 10000 from alice could not be opened: it was sealed with key id 3, which this participant does not hold \\(it holds 1, 2\\)`));
    const bMore = await agentSendTexts(bob, 10000, `${SECRET} native`, N, 1);
    await waitPageGot(alice, 'bob/10000', N + 1, "bob's message after alice's rotation");
    assert.deepEqual((await pageGot(alice, 'bob/10000')).at(-1), [bMore[0], `${SECRET} native-${N}`], 'key 2 still opens after rotating to 3');
    assert.equal(bob.messages(10000, 'alice').length, N + 1, 'bob got nothing he could not open');
    console.log('rotation: the browser seals with key 3 (bob: DECRYPTION_FAILED naming it), still opens key 2');

    // Back to the team's keys; a message sent right before leave() is sealed and still goes.
    const lastSeq = await alice.evaluate(async ([text, secret]) => {
      T.call.setE2eeKeys(await T.sb.E2eeKeys.parse(text, T.call.id));
      const sent = T.senders[10000].sendMessage(new TextEncoder().encode(`${secret} last words`));
      await T.call.leave();
      return sent;
    }, [shared, SECRET]);
    const last = await bob.next((e) => e.event === 'message' && e.from === 'alice' && e.text === `${SECRET} last words`, "alice's last words");
    assert.equal(last.sequenceNumber, lastSeq);
    assert.equal(lastSeq, N + 3);
    console.log('a message sent right before leave() is sealed and delivered');
    bob.kill();
    erin.kill();
    await dave.evaluate(() => T.call.leave());
    await alice.context().close();
    await dave.context().close();
  } finally {
    await traced.stopped();
  }
  const recorded = readFileSync(trace, 'utf8');

  // The direct path: a 1:1 call goes peer-to-peer, and sealed messages open both ways.
  const p2pCall = 'web-sdk-e2ee-p2p';
  const amy = await newPage(browser, server.http, 'amy');
  await amy.evaluate((o) => T.join(o), { server: server.url, callId: p2pCall, token: token('amy', p2pCall), p2p: true, e2eeKeys: shared });
  const ben = new Agent(agentBinary, server.url, p2pCall, 'ben', { p2p: true, extra: ['--e2ee-key-file', keyFile] });
  assert.deepEqual(await ben.next((e) => e.event === 'transport', 'ben goes peer-to-peer'), { event: 'transport', mode: 'p2p', peer: 'amy' });
  await waitPage(amy, () => T.call.transport.mode === 'p2p', undefined, 'the browser goes peer-to-peer', 30000);
  await ben.request({ op: 'create_sender', channelId: 10000, reliability: 'durable' });
  const [amySeqs, benSeqs] = await Promise.all([
    amy.evaluate((secret) => T.sendTexts(10000, `${secret} direct`, 0, 20), SECRET),
    agentSendTexts(ben, 10000, `${SECRET} direct back`, 0, 20),
  ]);
  await until(() => ben.messages(10000, 'amy').length >= 20, "amy's direct messages at ben");
  await waitPageGot(amy, 'ben/10000', 20, "ben's direct messages");
  assert.deepEqual(agentGot(ben, 10000, 'amy'), expected(`${SECRET} direct`, 0, amySeqs));
  assert.deepEqual(await pageGot(amy, 'ben/10000'), expected(`${SECRET} direct back`, 0, benSeqs));
  assert.equal(await amy.evaluate(() => T.call.transport.mode), 'p2p');
  console.log('peer-to-peer: 20 sealed messages each way between the browser and the agent');
  ben.kill();
  await amy.evaluate(() => T.call.leave());
  await amy.context().close();

  // Misuse is refused with INVALID_ARGUMENT: keys derived for another call (at join and
  // at setE2eeKeys), setE2eeKeys in a call joined without E2EE, a join option of the
  // wrong type.
  const hal = await newPage(browser, server.http, 'hal');
  await hal.evaluate((o) => T.join(o), { server: server.url, callId: 'web-sdk-e2ee-off', token: token('hal', 'web-sdk-e2ee-off'), p2p: false });
  const misuse = await hal.evaluate(async ([url, tokens]) => {
    const codeOf = async (fn) => {
      try {
        await fn();
        return 'no error';
      } catch (e) {
        return `${e.code}: ${e.message}`;
      }
    };
    const foreign = await T.sb.E2eeKeys.parse('1:passphrase:open sesame', 'another-call');
    const raw = T.sb.E2eeKeys.fromKeys([{ id: 1, key: new Uint8Array(32) }]);
    return {
      joinForeign: await codeOf(() => new T.sb.CallClient().join({ server: url, callId: 'web-sdk-e2ee-x', token: tokens[0], e2ee: foreign })),
      joinNotKeys: await codeOf(() => new T.sb.CallClient().join({ server: url, callId: 'web-sdk-e2ee-x', token: tokens[0], e2ee: { keys: [] } })),
      setWithout: await codeOf(() => T.call.setE2eeKeys(raw)),
    };
  }, [server.url, [token('hal', 'web-sdk-e2ee-x')]]);
  assert.deepEqual(misuse, {
    joinForeign: 'INVALID_ARGUMENT: the E2EE keys were derived for call another-call, not web-sdk-e2ee-x',
    joinNotKeys: 'INVALID_ARGUMENT: `e2ee` takes E2eeKeys (E2eeKeys.parse or E2eeKeys.fromKeys)',
    setWithout: 'INVALID_ARGUMENT: end-to-end encryption is off in this call: join with the `e2ee` option',
  });
  await hal.evaluate(() => T.call.leave());
  await hal.context().close();
  console.log('misuse: keys for another call, a non-E2eeKeys option, setE2eeKeys without E2EE: INVALID_ARGUMENT');

  // The demo's passphrase field: the key of a key file line `1:passphrase:…`.
  const demoCall = 'web-sdk-e2ee-demo';
  const demoKeys = join(dir, 'demo.keys');
  writeFileSync(demoKeys, '1:passphrase:open sesame\n');
  const fay = await joinDemo('fay', demoCall, 'open sesame');
  assert.match(await fay.locator('#status').innerText(), /end-to-end encrypted/);
  const gil = new Agent(agentBinary, server.url, demoCall, 'gil', { extra: ['--e2ee-key-file', demoKeys] });
  await gil.next((e) => e.event === 'joined', 'gil joined');
  await gil.request({ op: 'create_sender', channelId: 10000, reliability: 'durable' });
  await gil.request({ op: 'send', channelId: 10000, text: 'sealed hello from gil' });
  await waitChat(fay, 'sealed hello from gil', "gil's line in fay's demo");
  await fay.fill('#line', 'sealed hello from fay');
  await fay.click('#chat button');
  const fayLine = await gil.next((e) => e.event === 'message' && e.from === 'fay', "fay's line at gil");
  assert.equal(fayLine.text, 'sealed hello from fay');
  console.log('demo: a passphrase in the join form, chat both ways with an agent using the same passphrase');
  gil.kill();
  await fay.click('#leave');
  await fay.context().close();
  rmSync(dir, { recursive: true, force: true });
  assert.ok(recorded.includes(hex(MARKER)), 'the trace records payloads (the control marker is there)');
  for (const plain of [SECRET, 'ZEBRA', 'web-1', 'native-1']) {
    assert.ok(!recorded.includes(hex(plain)), `the trace holds "${plain}" in hex`);
    assert.ok(!recorded.includes(plain), `the trace holds "${plain}"`);
  }
  // The sealed layout both ways: version 01, key id 00000002.
  assert.match(recorded, /from=alice to=bob channel=10000 seq=1 type=data payload=0100000002/);
  assert.match(recorded, /from=bob to=alice channel=10000 seq=1 type=data payload=0100000002/);
  assert.match(recorded, new RegExp(`from=alice to=bob channel=10000 seq=${N + 2} type=data payload=0100000003`));
  console.log(`trace: ${recorded.split('\n').length - 1} frames, the control marker in the clear, never the secret`);
}

// Each scenario has a browser of its own. The pages' origin (http://10.200.0.1:PORT) is
// not a secure context, which the SDK must not need; the files and e2ee scenarios alone
// ask Chromium to treat it as one, for WebCrypto (a deployment serves https).
async function launch({ secureOrigin } = {}) {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [...CHROMIUM_ARGS, ...(secureOrigin ? [`--unsafely-treat-insecure-origin-as-secure=${secureOrigin}`] : [])],
  });
}

// ---- 7. A cluster (docs/scaling.md): a redis-server and two nodes. A native agent places
// the call on node a; the browser joins through node b, is redirected to a by the SDK
// without noticing, and both exchange messages.
async function cluster() {
  const callId = 'web-sdk-cluster';
  const N = 20;
  const redisPort = 20000 + Math.floor(Math.random() * 20000);
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const nodes = [];
  try {
    await until(async () => {
      try {
        const { createConnection } = await import('node:net');
        return await new Promise((resolve) => {
          const c = createConnection(redisPort, '127.0.0.1', () => c.write('PING\r\n'));
          c.on('data', (d) => { c.destroy(); resolve(d.toString().startsWith('+PONG')); });
          c.on('error', () => resolve(false));
        });
      } catch {
        return false;
      }
    }, 'redis-server answering');
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    for (const id of ['a', 'b']) {
      nodes.push(await startServer(serverBinary, { bind, webRoot, extra: ['--redis', redisUrl, '--node-id', id] }));
    }
    const [a, b] = nodes;
    const carol = new Agent(agentBinary, a.url, callId, 'carol', { p2p: false });
    await carol.next((e) => e.event === 'joined', 'carol joined through a');
    const alice = await newPage(browser, server.http, 'alice');
    const joined = await alice.evaluate((o) => T.join(o), { server: b.url, callId, token: token('alice', callId), p2p: false });
    assert.deepEqual(joined.participants.map((p) => p.identity), ['carol'], 'the browser joined the call on a through b');
    assert.equal(await b.metric('switchboard_cluster_placements_total'), 0, 'b placed nothing here');
    const redirected = await (await fetch(`${b.http}/metrics`)).text();
    assert.match(redirected, /^switchboard_cluster_placements_total\{node="b",result="redirected"\} 1$/m);
    assert.equal(await a.metric('switchboard_cluster_participants'), 2);
    assert.equal(await b.metric('switchboard_cluster_participants'), 0);

    const aSeqs = await alice.evaluate(([n]) => T.sendTexts(10000, 'web', 0, n), [N]);
    await until(() => carol.messages(10000, 'alice').length >= N, "alice's messages at carol");
    assert.deepEqual(agentGot(carol, 10000, 'alice'), expected('web', 0, aSeqs));
    await carol.request({ op: 'create_sender', channelId: 10000, reliability: 'durable' });
    const cSeqs = await agentSendTexts(carol, 10000, 'native', 0, N);
    await waitPageGot(alice, 'carol/10000', N, "carol's messages");
    assert.deepEqual(await pageGot(alice, 'carol/10000'), expected('native', 0, cSeqs));
    console.log(`cluster: the browser entered through b, was redirected to a, ${N} messages each way`);
    assert.equal(await carol.leave(), 0, 'the agent exits 0 after leave');
    await alice.evaluate(() => T.call.leave());
    await alice.context().close();

    // Node a is killed: the call comes back on b, through the URL the page was given (it
    // follows b's redirect to the dead a until a's placement expires, then b places the call
    // on itself), within 15 s, not resumed; the page's sender and the agent's carry on with
    // the same channel and numbering, and receivers are restored as each sends again.
    const killedCall = 'web-sdk-cluster-killed';
    const dave = new Agent(agentBinary, a.url, killedCall, 'dave', { p2p: false });
    await dave.next((e) => e.event === 'joined', 'dave placed the call on a');
    const erin = new Agent(agentBinary, b.url, killedCall, 'erin', { p2p: false });
    await erin.next((e) => e.event === 'joined', 'erin joined through b');
    const bob = await newPage(browser, server.http, 'bob');
    await bob.evaluate((o) => T.join(o), { server: b.url, callId: killedCall, token: token('bob', killedCall), p2p: false });
    assert.equal(await dave.leave(), 0);
    assert.equal(await a.metric('switchboard_cluster_participants'), 2, 'the call of erin and bob is on a');
    await erin.request({ op: 'create_sender', channelId: 10000, reliability: 'durable' });
    const bBefore = await bob.evaluate(([n]) => T.sendTexts(10000, 'before', 0, n), [N]);
    const eBefore = await agentSendTexts(erin, 10000, 'before', 0, N);
    await until(() => erin.messages(10000, 'bob').length >= N, "bob's messages at erin");
    await waitPageGot(bob, 'erin/10000', N, "erin's messages");
    await sleep(300);  // acknowledged, so nothing is unconfirmed

    const killedAt = Date.now();
    await a.killed();
    await waitPage(bob, () => T.log.some((l) => l.connection === 'reconnecting'), undefined, 'the page reconnecting', 10000);
    await waitPage(bob, () => T.log.some((l) => l.connection === 'connected'), undefined, 'the page back on b', 20000);
    const back = (await pageLog(bob)).find((l) => l.connection === 'connected');
    assert.equal(back.resumed, false, 'a dead node cannot resume');
    assert.equal(back.unconfirmed, 0);
    assert.equal((await erin.next((e) => e.event === 'reconnected', 'erin back', 20000)).resumed, false);
    await waitPage(bob, () => T.call.participants.some((p) => p.identity === 'erin'), undefined, 'erin in the call on b', 20000);
    await until(async () => (await erin.request({ op: 'participants' })).participants.some((p) => p.user === 'bob'), "bob in erin's call on b", 20000);
    assert.equal(await b.metric('switchboard_cluster_participants'), 2, 'the call is on b now');
    const bAfter = await bob.evaluate(([n]) => T.sendTexts(10000, 'after', 0, n), [N]);
    const eAfter = await agentSendTexts(erin, 10000, 'after', 0, N);
    assert.deepEqual(bAfter, range(N + 1, N), "the page's sender numbers on");
    assert.deepEqual(eAfter, range(N + 1, N), "the agent's sender numbers on");
    await until(() => erin.messages(10000, 'bob').length >= 2 * N, "bob's messages on b", 15000);
    await waitPageGot(bob, 'erin/10000', 2 * N, "erin's messages on b", 15000);
    const flowing = Date.now() - killedAt;
    assert.ok(flowing <= 15000, `messages flow again ${flowing} ms after the kill`);
    await sleep(300);
    assert.deepEqual(agentGot(erin, 10000, 'bob'), [...expected('before', 0, bBefore), ...expected('after', 0, bAfter)]);
    assert.deepEqual(await pageGot(bob, 'erin/10000'), [...expected('before', 0, eBefore), ...expected('after', 0, eAfter)]);
    assert.equal((await pageLog(bob)).find((l) => l.close === 'erin/10000')?.reason, 'participant_left', "the old node's receiver closed");
    assert.deepEqual((await pageLog(bob)).filter((l) => l.disconnected), []);
    console.log(`cluster: node a SIGKILLed; the browser's call came back on b, messages flowing both ways ${flowing} ms after the kill`);
    assert.equal(await erin.leave(), 0);
  } finally {
    for (const n of nodes) await n.stopped();
    redis.kill('SIGKILL');
  }
}

// ---- 8. Reconnecting and resuming (docs/protocol.md, "Reconnecting and resuming"): the
// Web SDK against a native agent when the server dies, and when the browser's network
// drops while the server stays up.
const connectionLog = async (page) => (await pageLog(page)).filter((l) => l.connection);
const nftFile = (rules) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-web-nft-'));
  const file = join(dir, 'rules.nft');
  writeFileSync(file, rules);
  return { file, dir };
};
function nft(rules) {
  const { file, dir } = nftFile(rules);
  const run = spawnSync('nft', ['-f', file], { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  if (run.status !== 0) throw new Error(`nft -f failed: ${run.stderr || run.error}`);
}

// 8a. The server is SIGKILLed and started again on the same port: the page notices within
// 5 s, joins the new server by itself as a new participant, reports resumed: false and the
// gap (the messages the dead server never confirmed), and messages flow both ways again on
// the same senders, numbered on.
async function reconnectServerKilled() {
  const callId = 'web-sdk-reconnect-killed';
  const N = 20;
  const LOST = 20;
  let s = await startServer(serverBinary, { bind });
  const port = s.port;
  try {
    const alice = await newPage(browser, server.http, 'alice');
    await alice.evaluate((o) => T.join(o), { server: s.url, callId, token: token('alice', callId), p2p: false });
    const carol = new Agent(agentBinary, s.url, callId, 'carol', { p2p: false });
    await carol.next((e) => e.event === 'joined', 'carol joined');
    await waitPage(alice, () => T.log.some((l) => l.joined === 'carol'), undefined, 'carol joined');
    await carol.request({ op: 'create_sender', channelId: 10000, reliability: 'durable' });
    const aSeqs = await alice.evaluate(([n]) => T.sendTexts(10000, 'before', 0, n), [N]);
    const cSeqs = await agentSendTexts(carol, 10000, 'before', 0, N);
    await until(() => carol.messages(10000, 'alice').length >= N, "alice's messages at carol");
    await waitPageGot(alice, 'carol/10000', N, "carol's messages");
    assert.deepEqual(agentGot(carol, 10000, 'alice'), expected('before', 0, aSeqs));
    assert.deepEqual(await pageGot(alice, 'carol/10000'), expected('before', 0, cSeqs));

    // What the server never confirms: it is frozen once its acknowledgements of the above
    // went out, the page sends LOST messages into its connection, then the server dies.
    await sleep(500);
    s.signal('SIGSTOP');
    const lost = await alice.evaluate(([n]) => T.sendTexts(10000, 'lost', 0, n), [LOST]);
    assert.deepEqual(lost, range(N + 1, LOST));
    await sleep(300);
    const killedAt = Date.now();
    await s.killed();
    await waitPage(alice, () => T.log.some((l) => l.connection === 'reconnecting'), undefined, 'the page reconnecting', 10000);
    const noticed = (await connectionLog(alice)).find((l) => l.connection === 'reconnecting');
    assert.ok(noticed.at - killedAt <= 5000, `the page noticed ${noticed.at - killedAt} ms after the kill`);
    assert.ok(noticed.reason, 'reconnecting says why');
    assert.equal(await alice.evaluate(() => T.call.connectionState), 'reconnecting');
    assert.equal(await alice.evaluate(() => T.call.connected), false);
    await carol.next((e) => e.event === 'reconnecting', 'carol reconnecting', 10000);
    await sleep(1500);  // a few failed attempts
    s = await startServer(serverBinary, { bind, port });

    await waitPage(alice, () => T.log.some((l) => l.connection === 'connected'), undefined, 'the page reconnected', 20000);
    const back = (await connectionLog(alice)).find((l) => l.connection === 'connected');
    assert.equal(back.resumed, false, 'a restarted server cannot resume');
    assert.equal(back.unconfirmed, LOST, 'the gap: what the dead server never confirmed');
    assert.equal(await alice.evaluate(() => T.call.connectionState), 'connected');
    const carolBack = await carol.next((e) => e.event === 'reconnected', 'carol reconnected', 20000);
    assert.equal(carolBack.resumed, false);
    assert.equal(carolBack.unconfirmedMessages, 0);
    // The old session's receivers closed; both are in the new server's call.
    await waitPage(alice, () => T.log.some((l) => l.close === 'carol/10000'), undefined, "carol's old receiver closed");
    assert.equal((await pageLog(alice)).find((l) => l.close === 'carol/10000').reason, 'participant_left');
    await carol.next((e) => e.event === 'receiver_closed' && e.from === 'alice', "alice's old receiver closed");
    await waitPage(alice, () => T.call.participants.some((p) => p.identity === 'carol'), undefined, 'carol in the new call', 20000);
    await until(async () => (await carol.request({ op: 'participants' })).participants.some((p) => p.user === 'alice'), 'alice in carol\'s new call', 20000);

    // The same senders carry on, numbered on; the lost ones never come.
    const after = await alice.evaluate(([n]) => T.sendTexts(10000, 'after', 0, n), [N]);
    assert.deepEqual(after, range(N + LOST + 1, N), 'the page sender numbers on');
    const cAfter = await agentSendTexts(carol, 10000, 'after', 0, N);
    assert.deepEqual(cAfter, range(N + 1, N), 'the native sender numbers on');
    await until(() => carol.messages(10000, 'alice').length >= 2 * N, "alice's messages after the restart");
    await waitPageGot(alice, 'carol/10000', 2 * N, "carol's messages after the restart");
    await sleep(300);
    assert.deepEqual(agentGot(carol, 10000, 'alice'), [...expected('before', 0, aSeqs), ...expected('after', 0, after)], 'browser → native after the restart; none of the lost');
    // One list per sender and channel: the old receiver's messages, then the new one's.
    assert.deepEqual(await pageGot(alice, 'carol/10000'), [...expected('before', 0, cSeqs), ...expected('after', 0, cAfter)], 'native → browser after the restart');
    assert.deepEqual((await pageLog(alice)).filter((l) => l.disconnected), [], 'the page never disconnected');
    assert.equal(carol.events.some((e) => e.event === 'disconnected'), false);
    console.log(
      `server killed: the page noticed in ${noticed.at - killedAt} ms, rejoined the restarted server (resumed: false, ` +
        `${LOST} unconfirmed), messages flow both ways on the same senders, numbered on`,
    );
    assert.equal(await carol.leave(), 0);
    await alice.evaluate(() => T.call.leave());
    await alice.context().close();
  } finally {
    s.signal('SIGCONT');
    await s.stopped();
  }
}

// 8b. A real network drop: the browser reaches the server at 10.200.0.2, the native agent
// at 10.200.0.1 (the server listens on both; its announced address is unreachable, so each
// client's data path goes to the address its WebSocket went to). nftables drops every
// packet to or from the server's port on 10.200.0.2, TCP and UDP, for ~8 s. 2 × 500
// durable messages flow meanwhile; every one arrives exactly once, in order, both ways;
// the page resumes and the agent sees no leave.
async function reconnectNetworkDrop() {
  const callId = 'web-sdk-reconnect-drop';
  const N = 500;
  const CUT_AT = 100;
  const CUT_MS = 8000;
  const browserHost = '10.200.0.2';
  const s = await startServer(serverBinary, { bind: '0.0.0.0', host: bind, extra: ['--public-ip', '10.200.0.250'] });
  const browserUrl = `ws://${browserHost}:${s.port}`;
  let cut = false;
  const uncut = () => {
    if (cut) spawnSync('nft', ['delete', 'table', 'inet', 'sbwebcut']);
    cut = false;
  };
  try {
    const alice = await newPage(browser, server.http, 'alice');
    await alice.evaluate((o) => T.join(o), { server: browserUrl, callId, token: token('alice', callId), p2p: false });
    const carol = new Agent(agentBinary, s.url, callId, 'carol', { p2p: false });
    await carol.next((e) => e.event === 'joined', 'carol joined');
    await waitPage(alice, () => T.log.some((l) => l.joined === 'carol'), undefined, 'carol joined');
    await carol.request({ op: 'create_sender', channelId: 10000, reliability: 'durable' });

    // Both send N, one every 15 ms; the cut comes after CUT_AT of the page's.
    const pageSending = alice.evaluate(async ([n]) => {
      const s = T.sender(10000);
      const enc = new TextEncoder();
      T.sentSeqs = [];
      for (let i = 0; i < n; i++) {
        T.sentSeqs.push(await s.sendMessage(enc.encode(`web-${i}`)));
        await new Promise((r) => setTimeout(r, 15));
      }
      return T.sentSeqs;
    }, [N]);
    const agentSending = (async () => {
      const seqs = [];
      for (let i = 0; i < N; i++) {
        seqs.push((await carol.request({ op: 'send', channelId: 10000, text: `native-${i}` })).sequenceNumber);
        await sleep(15);
      }
      return seqs;
    })();
    await waitPage(alice, ([n]) => (T.sentSeqs ?? []).length >= n, [CUT_AT], 'the first messages sent');
    const p = s.port;
    nft(`table inet sbwebcut {
  chain input {
    type filter hook input priority 0;
    ip daddr ${browserHost} tcp dport ${p} drop
    ip saddr ${browserHost} tcp sport ${p} drop
    ip daddr ${browserHost} udp dport ${p} drop
    ip saddr ${browserHost} udp sport ${p} drop
  }
}
`);
    cut = true;
    const cutAt = Date.now();
    await waitPage(alice, () => T.log.some((l) => l.connection === 'reconnecting'), undefined, 'the page reconnecting', 10000);
    const noticed = (await connectionLog(alice)).find((l) => l.connection === 'reconnecting');
    // 3 s of silence, checked every second.
    assert.ok(noticed.at - cutAt <= 6000, `the page noticed the cut after ${noticed.at - cutAt} ms`);
    await sleep(Math.max(0, CUT_MS - (Date.now() - cutAt)));
    uncut();
    const restoredAt = Date.now();
    await waitPage(alice, () => T.log.some((l) => l.connection === 'connected'), undefined, 'the page back', 30000);
    const back = (await connectionLog(alice)).find((l) => l.connection === 'connected');
    assert.equal(back.resumed, true, 'the server kept the session');
    assert.equal(back.unconfirmed, 0);

    const aSeqs = await pageSending;
    const cSeqs = await agentSending;
    assert.deepEqual(aSeqs, range(1, N));
    assert.deepEqual(cSeqs, range(1, N));
    await until(() => carol.messages(10000, 'alice').length >= N, "all of alice's messages at carol", 60000);
    await waitPageGot(alice, 'carol/10000', N, "all of carol's messages", 60000);
    await sleep(500);  // a duplicate would arrive by now
    const texts = (prefix) => range(0, N).map((i) => [i + 1, `${prefix}-${i}`]);
    assert.deepEqual(agentGot(carol, 10000, 'alice'), texts('web'), 'browser → native: each once, in order');
    assert.deepEqual(await pageGot(alice, 'carol/10000'), texts('native'), 'native → browser: each once, in order');
    const seen = (await pageLog(alice)).filter((l) => l.joined || l.left || l.close || l.disconnected || l.receiver);
    assert.deepEqual(seen, [{ joined: 'carol', name: 'CAROL' }, { receiver: 'carol/10000' }], 'the page saw no leave, rejoin or new receiver');
    const carolSaw = carol.events.filter((e) =>
      ['participant_left', 'participant_joined', 'receiver_closed', 'disconnected', 'reconnecting'].includes(e.event),
    );
    assert.deepEqual(carolSaw, [], 'the agent saw no leave, rejoin, closed receiver or reconnect');
    assert.equal(carol.events.filter((e) => e.event === 'receiver_created').length, 1);
    assert.deepEqual((await connectionLog(alice)).map((l) => l.connection), ['reconnecting', 'connected']);
    console.log(
      `network drop: the page noticed in ${noticed.at - cutAt} ms, was back ${back.at - restoredAt} ms after the ` +
        `${CUT_MS / 1000} s cut ended, resumed; 2 x ${N} durable messages each once, in order`,
    );
    assert.equal(await carol.leave(), 0);
    await alice.evaluate(() => T.call.leave());
    await alice.context().close();
  } finally {
    uncut();
    await s.stopped();
  }
}

async function reconnect() {
  await reconnectServerKilled();
  await reconnectNetworkDrop();
}

// Stops by itself whatever hangs: ctest's TIMEOUT should never be what ends it.
const WATCHDOG_S = Number(process.env.WEB_SDK_WATCHDOG_S || 540);
setTimeout(() => {
  console.log(`FAIL watchdog: still running after ${WATCHDOG_S} s`);
  // Whatever command-line program is still running, and the end of what it said.
  for (const [child, { what, output }] of cliOutputs) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const tail = output().split('\n').slice(-40).join('\n');
    console.log(`--- ${what} (pid ${child.pid}) still running; the end of its output:\n${tail}`);
  }
  process.exit(1);
}, WATCHDOG_S * 1000).unref();

let server;
let browser;
const chosen = which === 'all' ? SCENARIOS : [which];
const table = { messaging, files, 'files-cli': filesCli, p2p, demo, e2ee, cluster, reconnect };
const secure = { files: true, 'files-cli': true, e2ee: true };
let failures = 0;
try {
  server = await startServer(serverBinary, { bind, webRoot });
  failures = await runScenarios(
    chosen.map((name) => [
      name,
      async () => {
        browser = await launch({ secureOrigin: secure[name] ? server.http : undefined });
        try {
          await table[name]();
        } finally {
          await browser.close();
          browser = undefined;
        }
      },
    ]),
  );
} catch (e) {
  failures++;
  console.log(`FAIL setup: ${e.stack ?? e}`);
} finally {
  await browser?.close();
  server?.stop();
}
process.exit(failures ? 1 : 0);
