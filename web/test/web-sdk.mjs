// The Web SDK in headless Chromium against a real switchboard-server and native
// participants (`switchboard agent`). Run inside scripts/with-netns:
//
//   node web/test/web-sdk.mjs SCENARIO BIN_DIR [BIND_ADDRESS]
//
// SCENARIO: messaging | files | p2p | demo | all. BIN_DIR holds switchboard and
// switchboard-server. The server serves web/dist (the SDK at /sdk/switchboard.js, the demo
// at /). Exit status 0 when every scenario held, 1 otherwise, 77 (skipped) without
// Chromium or a built web/dist. Set VERBOSE=1 for the agents' logs and the pages' console.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './browser.mjs';
import { Agent, newPage, runScenarios, sleep, startServer, token, until, waitPage } from './sdk-harness.mjs';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const [which, binDir, bind = '10.200.0.1'] = process.argv.slice(2);
const SCENARIOS = ['messaging', 'files', 'p2p', 'demo'];
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

let server;
let browser;
const chosen = which === 'all' ? SCENARIOS : [which];
const table = { messaging };
let failures = 0;
try {
  server = await startServer(serverBinary, { bind, webRoot });
  browser = await launchChromium();
  failures = await runScenarios(chosen.map((name) => [name, table[name]]));
} catch (e) {
  failures++;
  console.log(`FAIL setup: ${e.stack ?? e}`);
} finally {
  await browser?.close();
  server?.stop();
}
process.exit(failures ? 1 : 0);
