// A direct data connection between the two participants of a 1:1 call (docs/protocol.md,
// "Peer-to-peer", "Setting up the direct connection"): the ICE servers of `joined`, offer,
// answer and trickled candidates through the server's signaling (with `peer` and
// `session`), then the four traffic-class channels plus stream 4, switchboard-control.
//
// The participant the server names offerer makes the offer (a=setup:actpass) and is the
// controlling ICE agent; the other answers a=setup:active (the browser's choice for an
// actpass offer) and is the DTLS client. Not up within 15 s: failed.

import { DataConnection, type DataConnectionHandlers } from './dataConnection.js';
import type { IceServerEntry, PeerSignal } from './signaling.js';

export const PEER_STREAMS = 5;
export const PEER_CONNECT_TIMEOUT_MS = 15_000;

export interface PeerConnectionConfig {
  peer: number;
  session: number;
  offerer: boolean;
  iceServers: IceServerEntry[];
  connectTimeoutMs?: number;
}

export interface PeerConnectionHandlers extends DataConnectionHandlers {
  // An offer, answer or candidate for the server to relay to the peer.
  signal(message: PeerSignal): void;
}

export class PeerConnection extends DataConnection {
  readonly peer: number;
  readonly session: number;
  private readonly offerer: boolean;
  private readonly onSignal: (message: PeerSignal) => void;
  private remoteSet = false;
  private answered = false;
  // Candidates that came before the peer's description.
  private pending: string[] = [];
  private deadline: ReturnType<typeof setTimeout> | undefined;

  constructor(config: PeerConnectionConfig, handlers: PeerConnectionHandlers) {
    super({ iceServers: config.iceServers }, PEER_STREAMS, `participant ${config.peer}`, handlers);
    this.peer = config.peer;
    this.session = config.session;
    this.offerer = config.offerer;
    this.onSignal = handlers.signal;
    const timeout = config.connectTimeoutMs ?? PEER_CONNECT_TIMEOUT_MS;
    this.deadline = setTimeout(() => {
      this.deadline = undefined;
      this.fail(`the direct connection to participant ${this.peer} did not come up within ${timeout} ms`);
    }, timeout);
    this.pc.onicecandidate = (event) => {
      // null ends the candidates: "" on the wire.
      const candidate = event.candidate ? event.candidate.candidate : '';
      if (event.candidate && candidate === '') return;  // Chromium's own end marker
      this.signal({ type: 'candidate', candidate });
    };
  }

  // The offerer makes its offer; the answerer waits for the peer's.
  start(): void {
    if (!this.offerer) return;
    void this.run(async () => {
      await this.pc.setLocalDescription(await this.pc.createOffer());
      this.signal({ type: 'offer', sdp: this.pc.localDescription!.sdp });
    });
  }

  // Signaling from the peer, of this connection's session. What does not fit the state (an
  // offer to the offerer, a second answer) is ignored.
  handle(message: PeerSignal): void {
    if (!this.isOpen()) return;
    switch (message.type) {
      case 'offer':
        if (this.offerer || this.answered) return;
        this.answered = true;
        void this.run(async () => {
          await this.pc.setRemoteDescription({ type: 'offer', sdp: message.sdp });
          await this.remoteDescriptionSet();
          await this.pc.setLocalDescription(await this.pc.createAnswer());
          this.signal({ type: 'answer', sdp: this.pc.localDescription!.sdp });
        });
        return;
      case 'answer':
        if (!this.offerer || this.answered) return;
        this.answered = true;
        void this.run(async () => {
          await this.pc.setRemoteDescription({ type: 'answer', sdp: message.sdp });
          await this.remoteDescriptionSet();
        });
        return;
      case 'candidate':
        if (!this.remoteSet) {
          this.pending.push(message.candidate);
          return;
        }
        void this.addCandidate(message.candidate);
        return;
    }
  }

  override close(): void {
    this.pc.onicecandidate = null;
    super.close();
  }

  protected override settled(): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  private async remoteDescriptionSet(): Promise<void> {
    this.remoteSet = true;
    const pending = this.pending;
    this.pending = [];
    for (const candidate of pending) await this.addCandidate(candidate);
  }

  private async addCandidate(candidate: string): Promise<void> {
    try {
      // "" is the end of the peer's candidates.
      await this.pc.addIceCandidate({ candidate, sdpMid: '0', sdpMLineIndex: 0 });
    } catch {
      // One the browser cannot use (a TCP or unresolvable one) changes nothing: others may work.
    }
  }

  private signal(message: PeerSignal): void {
    if (!this.isOpen()) return;
    this.onSignal({ ...message, peer: this.peer, session: this.session });
  }

  // A step of the negotiation; a description the browser refuses fails the connection.
  private async run(step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (e) {
      if (this.isOpen()) this.fail(`negotiating with participant ${this.peer} failed: ${String(e)}`);
    }
  }

  private isOpen(): boolean {
    return this.pc.signalingState !== 'closed';
  }
}
