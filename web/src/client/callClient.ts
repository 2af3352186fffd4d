// Where calls start (ACS: CallClient): join a call on a Switchboard server.

import { SwitchboardError } from '../core/errors.js';
import { Call } from './call.js';
import { CallEngine } from './callEngine.js';
import { E2eeKeys, subtleCrypto } from './e2eeKeys.js';
import { DEFAULT_RECONNECT_TIMEOUT_MS } from './reconnect.js';

export interface JoinOptions {
  // The server's base URL: "ws://127.0.0.1:8480", "wss://switchboard.example.org".
  server: string;
  callId: string;
  // An access token for this call (docs/protocol.md, "Access tokens").
  token: string;
  // Overrides the token's display name.
  displayName?: string;
  // Allow a direct connection when the call holds only two participants (default true).
  p2p?: boolean;
  // End-to-end encryption (docs/protocol.md, "End-to-end encryption"): every message this
  // participant sends is sealed with the highest key id, every message it receives is
  // opened with the key its id names (one that cannot be opened reaches its receiver's
  // `error` event, DECRYPTION_FAILED, never readMessage). Each sender's maxMessageSize is
  // 33 bytes smaller. Needs WebCrypto: a secure page (https:// or http://localhost).
  e2ee?: E2eeKeys;
  // When the connection to the server is lost after join() resolved (the server went
  // away, the network dropped), the call joins again by itself, retrying with backoff
  // (250 ms doubling to 2 s) for this many milliseconds (default 60,000), and resumes the
  // session when the server still holds it: the call's `connectionStateChanged` event says
  // 'reconnecting', then 'connected' with `resumed`. 0: a lost connection ends the call
  // (`disconnected`) at once. (C++ JoinOptions::reconnectTimeout.)
  reconnectTimeout?: number;
}

export class CallClient {
  // Joins, and resolves once the data connection to the server is up. Rejects with a
  // SwitchboardError: UNAUTHORIZED (a bad or expired token), CALL_FULL,
  // INVALID_ARGUMENT (bad options), NOT_CONNECTED (the server is unreachable, or the data
  // connection did not come up).
  async join(options: JoinOptions): Promise<Call> {
    const {
      server,
      callId,
      token,
      displayName,
      p2p = true,
      e2ee,
      reconnectTimeout = DEFAULT_RECONNECT_TIMEOUT_MS,
    } = options ?? ({} as JoinOptions);
    const bad = (what: string): never => {
      throw new SwitchboardError('INVALID_ARGUMENT', what);
    };
    if (typeof server !== 'string' || server === '') bad('join needs `server`, e.g. ws://127.0.0.1:8480');
    if (typeof callId !== 'string' || callId === '') bad('join needs a non-empty `callId`');
    if (typeof token !== 'string' || token === '') bad('join needs an access `token`');
    if (displayName !== undefined && typeof displayName !== 'string') bad('`displayName` must be a string');
    if (typeof p2p !== 'boolean') bad('`p2p` must be true or false');
    if (typeof reconnectTimeout !== 'number' || !Number.isFinite(reconnectTimeout) || reconnectTimeout < 0) {
      bad('`reconnectTimeout` must be a number of milliseconds, 0 or more');
    }
    if (e2ee !== undefined) {
      if (!(e2ee instanceof E2eeKeys)) bad('`e2ee` takes E2eeKeys (E2eeKeys.parse or E2eeKeys.fromKeys)');
      if (e2ee.callId !== '' && e2ee.callId !== callId) bad(`the E2EE keys were derived for call ${e2ee.callId}, not ${callId}`);
      subtleCrypto();
    }
    if (typeof RTCPeerConnection === 'undefined' || typeof WebSocket === 'undefined') {
      throw new SwitchboardError('INTERNAL', 'this environment has no WebRTC (RTCPeerConnection) or WebSocket');
    }
    const engine = new CallEngine({ server, callId, token, displayName, p2p, reconnectTimeoutMs: reconnectTimeout }, e2ee);
    await engine.join();
    return new Call(engine);
  }
}
