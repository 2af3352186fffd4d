// Chromium ↔ native WebRTC interop, the Transport issue's acceptance gate. A plain
// RTCPeerConnection in headless Chromium connects to our native endpoint (ICE-lite,
// DTLS, SCTP, DCEP), opens data channels in both directions and exchanges 1,000
// pattern messages each way, 256 KiB ones included; a tampered fingerprint is refused
// in both directions. Run inside scripts/with-netns (the browser needs a real interface).
//
//   node chromium-interop.mjs PATH/TO/webrtc_interop_peer [BIND_ADDRESS]
import assert from 'node:assert/strict';
import { launchChromium } from './browser.mjs';
import { NativePeer } from './native-peer.mjs';
import { SIZES } from './pattern.mjs';

const [binary, bind = '10.200.0.1'] = process.argv.slice(2);
const COUNT = 1000;

// Runs in the page. Kept self-contained: it is serialised into the browser.
const PAGE = `
  const SIZES = ${JSON.stringify(SIZES)};
  const patternMessage = (i) => {
    const b = new Uint8Array(SIZES[i % SIZES.length]);
    for (let j = 0; j < b.length; j++) b[j] = (i * 31 + j * 7) & 0xff;
    return b;
  };
  const matches = (i, d) => {
    if (d.length !== SIZES[i % SIZES.length]) return false;
    for (let j = 0; j < d.length; j++) if (d[j] !== ((i * 31 + j * 7) & 0xff)) return false;
    return true;
  };
  window.state = { received: 0, ok: true, bytes: 0 };
  window.pc = new RTCPeerConnection();
  window.opened = new Promise((resolve) => {
    window.b2n = pc.createDataChannel('b2n');
    b2n.binaryType = 'arraybuffer';
    b2n.onopen = () => resolve();
  });
  window.n2bDone = new Promise((resolve) => {
    pc.ondatachannel = (e) => {
      const ch = e.channel;
      ch.binaryType = 'arraybuffer';
      ch.onmessage = (m) => {
        const d = new Uint8Array(m.data);
        if (!matches(state.received, d)) state.ok = false;
        state.received++;
        state.bytes += d.length;
        if (state.received === ${COUNT}) resolve({ label: ch.label, ...state });
      };
    };
  });
  window.makeOffer = async () => { await pc.setLocalDescription(); return pc.localDescription.sdp; };
  window.sendAll = async (count) => {
    await opened;
    b2n.bufferedAmountLowThreshold = 1 << 20;
    for (let i = 0; i < count; i++) {
      if (b2n.bufferedAmount > (8 << 20)) {
        await new Promise((r) => { b2n.onbufferedamountlow = () => r(); });
      }
      b2n.send(patternMessage(i));
    }
    return count;
  };
  window.failedOrConnected = () => new Promise((resolve) => {
    const check = () => {
      if (['failed', 'connected'].includes(pc.connectionState)) resolve(pc.connectionState);
    };
    pc.onconnectionstatechange = check;
    check();
  });
`;

function tamperFingerprint(sdp) {
  return sdp.replace(/(a=fingerprint:sha-256 )([0-9A-F])/i, (_, p, c) => p + (c === '0' ? '1' : '0'));
}

async function newPage(browser) {
  const page = await browser.newPage();
  page.on('console', (m) => console.log('[page]', m.text()));
  await page.evaluate(PAGE);
  return page;
}

async function exchange(browser) {
  const peer = new NativePeer(binary, bind);
  try {
    await peer.next((e) => e.event === 'ready', 'native peer ready');
    const page = await newPage(browser);
    const offer = await page.evaluate(() => window.makeOffer());
    peer.send({ op: 'offer', sdp: offer });
    const { sdp } = await peer.next((e) => e.event === 'answer', 'answer');
    await page.evaluate((answer) => pc.setRemoteDescription({ type: 'answer', sdp: answer }), sdp);
    assert.equal(await page.evaluate(() => window.failedOrConnected()), 'connected');
    await peer.next((e) => e.event === 'connected', 'native connected');

    // Browser → native.
    peer.send({ op: 'expect', label: 'b2n', count: COUNT });
    await page.evaluate((n) => window.sendAll(n), COUNT);
    const got = await peer.next((e) => e.event === 'received' && e.label === 'b2n', 'b2n messages');
    assert.equal(got.count, COUNT);
    assert.equal(got.ok, true, 'native side saw a wrong or reordered message');
    console.log(`browser → native: ${got.count} messages, ${got.bytes} bytes intact and in order`);

    // Native → browser, on a channel the native side opens (DCEP from our side).
    peer.send({ op: 'send', label: 'n2b', count: COUNT });
    const back = await page.evaluate(() => window.n2bDone);
    assert.equal(back.label, 'n2b');
    assert.equal(back.received, COUNT);
    assert.equal(back.ok, true, 'browser saw a wrong or reordered message');
    console.log(`native → browser: ${back.received} messages, ${back.bytes} bytes intact and in order`);
    await page.close();
  } finally {
    peer.close();
  }
}

// The browser must refuse our certificate when the answer's fingerprint is not ours,
// and we must refuse the browser's when its offer's fingerprint is not its own.
async function tampered(browser, side) {
  const peer = new NativePeer(binary, bind);
  try {
    await peer.next((e) => e.event === 'ready', 'native peer ready');
    const page = await newPage(browser);
    let offer = await page.evaluate(() => window.makeOffer());
    if (side === 'offer') offer = tamperFingerprint(offer);
    peer.send({ op: 'offer', sdp: offer });
    let { sdp } = await peer.next((e) => e.event === 'answer', 'answer');
    if (side === 'answer') sdp = tamperFingerprint(sdp);
    await page.evaluate((answer) => pc.setRemoteDescription({ type: 'answer', sdp: answer }), sdp);
    const state = await page.evaluate(() => window.failedOrConnected());
    assert.equal(state, 'failed', `browser connection ${state} despite a tampered ${side} fingerprint`);
    if (side === 'offer') {
      const failed = await peer.next((e) => e.event === 'failed', 'native refusal');
      assert.match(failed.message, /fingerprint/);
    }
    assert.equal(peer.events.some((e) => e.event === 'connected'), false);
    console.log(`tampered ${side} fingerprint: refused`);
    await page.close();
  } finally {
    peer.close();
  }
}

const browser = await launchChromium();
let failed = false;
try {
  await exchange(browser);
  await tampered(browser, 'answer');
  await tampered(browser, 'offer');
} catch (err) {
  failed = true;
  console.error('FAILED:', err.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
