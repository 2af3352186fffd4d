// The participant's WebRTC data connection to the server (docs/protocol.md, "The data path
// between a participant and the server"): four negotiated channels, one per traffic class.
// We offer (a=setup:actpass); the server answers from its ICE-lite port with its one host
// candidate inside the answer, so nothing is trickled either way; the browser, the
// controlling agent, checks that candidate and runs DTLS as the client.

import { DataConnection, TRAFFIC_STREAMS, type DataConnectionHandlers } from './dataConnection.js';

export class ServerConnection extends DataConnection {
  constructor(handlers: DataConnectionHandlers) {
    // No STUN or TURN: the server's candidate is a public host address.
    super({ iceServers: [] }, TRAFFIC_STREAMS, 'the server', handlers);
  }

  // Our offer, for the `offer` message (no `peer`).
  async createOffer(): Promise<string> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    const sdp = this.pc.localDescription?.sdp;
    if (!sdp) throw new Error('the browser made no local description');
    return sdp;
  }

  // The server's answer. `signalingHost` is where the WebSocket went: a server that does not
  // know its public address announces its bind address, yet its data port is on the host
  // that answered the WebSocket, so that host is tried too.
  async applyAnswer(sdp: string, signalingHost: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: withSignalingHost(sdp, signalingHost) });
  }
}

// Adds a host candidate at `host` on the port of the answer's first UDP candidate, unless
// one is there already. Exported for tests.
export function withSignalingHost(sdp: string, host: string): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare === '' || bare === 'localhost') return sdp;
  const lines = sdp.split(/\r?\n/);
  let port: string | undefined;
  let last = -1;
  for (let i = 0; i < lines.length; i++) {
    const fields = lines[i]!.split(' ');
    if (!lines[i]!.startsWith('a=candidate:') || fields.length < 8) continue;
    if (fields[2]!.toLowerCase() !== 'udp') continue;
    if (fields[4] === bare) return sdp;
    port ??= fields[5];
    last = i;
  }
  if (port === undefined) return sdp;
  // Foundation and priority below the server's own candidate, so that one is preferred.
  lines.splice(last + 1, 0, `a=candidate:2 1 udp 2130706175 ${bare} ${port} typ host`);
  return lines.join('\r\n');
}
