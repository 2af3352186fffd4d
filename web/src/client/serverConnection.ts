// The participant's WebRTC data connection to the server (docs/protocol.md, "The data path
// between a participant and the server"): four negotiated channels, one per traffic class.
// We offer (a=setup:actpass); the server answers from its ICE-lite port with its one host
// candidate inside the answer, so nothing is trickled either way; the browser, the
// controlling agent, checks that candidate and runs DTLS as the client.

import { withSignalingHost } from './answerCandidates.js';
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
