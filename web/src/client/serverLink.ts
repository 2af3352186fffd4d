// One participant's connection to a Switchboard server: the signaling WebSocket and the
// WebRTC data connection beside it (docs/protocol.md, "The data path"). It joins, sets up
// the data connection, carries transport messages (batches of frames of one traffic class)
// both ways and reports the call's roster changes; the DataChannel rules live above it, in
// the core's DataChannelEndpoint. The twin of src/client/server_link.cpp.

import { SwitchboardError } from '../core/errors.js';
import { ServerConnection } from './serverConnection.js';
import type {
  DurableCounts,
  ErrorMessage,
  JoinedMessage,
  P2pMessage,
  ParticipantEntry,
  ParticipantLeftMessage,
  PeerSignal,
  ResumeRequest,
  SignalMessage,
} from './signaling.js';
import { PING_INTERVAL_MS, SignalingSocket, signalingUrl } from './signalingSocket.js';

const CONNECT_TIMEOUT_MS = 10_000;  // WebSocket up
const JOIN_TIMEOUT_MS = 10_000;  // `joined` after the `join`
// From the offer to every channel open: ICE, DTLS and SCTP together.
const DATA_CONNECT_TIMEOUT_MS = 30_000;
const MAX_REDIRECTS = 3;

export interface ServerLinkConfig {
  server: string;  // "ws://host:port" (the link appends /v1/signal) or a full URL
  callId: string;
  token: string;
  displayName?: string | undefined;
  p2p: boolean;
  // Join as a resumable participant (join.resumable), or resume a session (join.resume).
  resumable?: boolean;
  resume?: ResumeRequest | undefined;
  // Keep-alive: a `ping` this often; with a silence limit, the link is lost when nothing
  // at all came from the server for that long (the server answers every ping). 0: never.
  pingIntervalMs?: number;
  silenceLimitMs?: number;
}

export interface ServerLinkHandlers {
  // The server admitted us; the data connection is not up yet.
  joined(joined: JoinedMessage): void;
  // The data connection is up: send() works from now on. Called once.
  connected(): void;
  participantJoined(participant: ParticipantEntry): void;
  participantLeft(left: ParticipantLeftMessage): void;
  // One transport message from the server (frames stamped with their senders).
  data(message: Uint8Array): void;
  // Right before `data`, when that transport message came on a durable stream: its class
  // (0 normal, 1 high), for the counts a resumable client acknowledges.
  durableReceived?(stream: number): void;
  // The server's `ack`: what it took in from us so far.
  ack?(received: DurableCounts): void;
  // The server refused something after the join (with channelId: frames of that channel).
  error(error: ErrorMessage): void;
  // A stream's queue fell to the low-water mark: send more.
  writable(): void;
  // The server asks for a direct connection to another participant.
  p2p(message: P2pMessage): void;
  // An offer, answer or candidate from that participant (`peer` names it).
  peerSignal(message: PeerSignal): void;
  // The link is over: the join was refused (UNAUTHORIZED, CALL_FULL, INVALID_ARGUMENT), the
  // server disconnected us, or a connection failed. At most once, never after leave().
  closed(error: SwitchboardError): void;
}

type State = 'idle' | 'connecting' | 'joining' | 'negotiating' | 'connected' | 'over';

export class ServerLink {
  private readonly config: ServerLinkConfig;
  private readonly handlers: ServerLinkHandlers;
  private state: State = 'idle';
  private url: URL;
  private redirects = 0;
  private ws: SignalingSocket | undefined;
  private connection: ServerConnection | undefined;
  private deadline: ReturnType<typeof setTimeout> | undefined;
  private silenceTimer: ReturnType<typeof setTimeout> | undefined;
  private refused = false;  // the server refused the join or sent us away

  // Throws INVALID_ARGUMENT for a server that is not a ws(s) or http(s) URL.
  constructor(config: ServerLinkConfig, handlers: ServerLinkHandlers) {
    this.config = config;
    this.handlers = handlers;
    this.url = signalingUrl(config.server);
  }

  // Connects, joins, then sets up the data connection.
  start(): void {
    if (this.state !== 'idle') return;
    this.connect();
  }

  // One transport message on `stream`. True when taken, false when its queue is full (wait
  // for `writable`). NOT_CONNECTED before `connected` or once over.
  send(stream: number, message: Uint8Array): boolean {
    if (this.state !== 'connected' || !this.connection) {
      throw new SwitchboardError(
        'NOT_CONNECTED',
        this.state === 'over'
          ? "the call's connection to the server is closed"
          : 'the connection to the server is not up yet',
      );
    }
    return this.connection.send(stream, message);
  }

  get bufferedAmount(): number {
    return this.connection?.bufferedAmount ?? 0;
  }

  // send() works.
  get connected(): boolean {
    return this.state === 'connected';
  }

  // An offer, answer or candidate for a peer, through the server. Dropped unless joined.
  signal(message: PeerSignal): void {
    if (this.joined()) this.ws?.send(message);
  }

  // `ack` with our counts (a resumable link, once joined).
  sendAck(received: DurableCounts): void {
    if (this.joined()) this.ws?.send({ type: 'ack', received });
  }

  // `p2p_failed`: our direct connection of `session` to `peer` failed. Dropped unless joined.
  sendP2pFailed(peer: number, session: number): void {
    if (this.joined()) this.ws?.send({ type: 'p2p_failed', peer, session });
  }

  // After `closed`: true when the connection was lost (network, timeouts, the server
  // gone), false when the server refused the join or sent us away (`disconnect`).
  get lost(): boolean {
    return !this.refused;
  }

  // Sends `leave` and closes both connections. No handler runs after it.
  leave(): void {
    if (this.state === 'over') return;
    this.state = 'over';
    this.ws?.send({ type: 'leave' });
    this.closeParts();
  }

  private connect(): void {
    this.state = 'connecting';
    const ws = new SignalingSocket(
      this.url,
      {
        message: (m) => {
          if (this.ws === ws) this.onMessage(m);
        },
        closed: (e) => {
          if (this.ws === ws) this.fail(e);
        },
      },
      this.config.pingIntervalMs ?? PING_INTERVAL_MS,
    );
    this.ws = ws;
    ws.opened(CONNECT_TIMEOUT_MS).then(
      () => {
        if (this.ws !== ws || this.state !== 'connecting') return;
        this.state = 'joining';
        ws.send({
          type: 'join',
          req: 'j',
          token: this.config.token,
          call: this.config.callId,
          ...(this.config.displayName !== undefined ? { displayName: this.config.displayName } : {}),
          p2p: this.config.p2p,
          ...(this.config.resumable ? { resumable: true } : {}),
          ...(this.config.resume ? { resume: this.config.resume } : {}),
        });
        this.armDeadline(JOIN_TIMEOUT_MS, `the server did not answer the join within ${JOIN_TIMEOUT_MS / 1000} s`);
        this.scheduleSilenceCheck();
      },
      () => {},  // `closed` reports it
    );
  }

  private onMessage(m: SignalMessage): void {
    switch (m.type) {
      case 'joined':
        if (this.state !== 'joining') return;
        this.state = 'negotiating';
        this.clearDeadline();
        this.handlers.joined(m);
        if (this.state === 'negotiating') void this.sendOffer();
        return;
      case 'answer':
        if (m.peer !== undefined) {
          this.forwardPeerSignal(m);
          return;
        }
        if (this.state === 'negotiating' && this.connection) void this.applyAnswer(m.sdp);
        return;
      case 'offer':
      case 'candidate':
        if (m.peer !== undefined) this.forwardPeerSignal(m);
        return;
      case 'participant_joined':
        if (this.joined()) {
          this.handlers.participantJoined({
            participantId: m.participantId,
            identity: m.identity,
            displayName: m.displayName,
          });
        }
        return;
      case 'participant_left':
        if (this.joined()) this.handlers.participantLeft(m);
        return;
      case 'error':
        if (this.state === 'joining') {
          this.refused = true;
          this.fail(new SwitchboardError(m.code, m.message));  // the server closes next
          return;
        }
        if (this.state !== 'over') this.handlers.error(m);
        return;
      case 'disconnect':
        this.refused = true;
        this.fail(new SwitchboardError('NOT_CONNECTED', m.reason || 'the server disconnected us'));
        return;
      case 'redirect':
        this.redirect(m.url);
        return;
      case 'p2p':
        if (this.joined()) this.handlers.p2p(m);
        return;
      case 'ack':
        if (this.joined()) this.handlers.ack?.(m.received);
        return;
      default:
        return;  // pong, and what only clients send
    }
  }

  // Before `joined`, the call lives elsewhere: join there instead.
  private redirect(to: string): void {
    if (this.state !== 'connecting' && this.state !== 'joining') return;
    let url: URL;
    try {
      url = signalingUrl(to);
    } catch {
      this.refused = true;
      this.fail(new SwitchboardError('NOT_CONNECTED', `the server redirects to "${to}", which is not a URL`));
      return;
    }
    if (++this.redirects > MAX_REDIRECTS) {
      this.refused = true;
      this.fail(new SwitchboardError('NOT_CONNECTED', `more than ${MAX_REDIRECTS} redirects; last to ${to}`));
      return;
    }
    this.clearDeadline();
    this.clearSilenceCheck();
    this.ws?.close();
    this.url = url;
    this.connect();
  }

  private forwardPeerSignal(m: PeerSignal): void {
    if (this.joined()) this.handlers.peerSignal(m);
  }

  private joined(): boolean {
    return this.state === 'negotiating' || this.state === 'connected';
  }

  private async sendOffer(): Promise<void> {
    const connection = new ServerConnection({
      connected: () => this.onDataConnected(),
      message: (stream, data) => {
        if (stream >= 4 || this.state !== 'connected') return;
        if (stream < 2) this.handlers.durableReceived?.(stream);
        this.handlers.data(data);
      },
      writable: () => {
        if (this.state === 'connected') this.handlers.writable();
      },
      failed: (e) => this.fail(new SwitchboardError('NOT_CONNECTED', `the data connection failed: ${e.message}`)),
    });
    this.connection = connection;
    this.armDeadline(
      DATA_CONNECT_TIMEOUT_MS,
      `the data connection to the server did not come up in ${DATA_CONNECT_TIMEOUT_MS / 1000} s`,
    );
    try {
      const sdp = await connection.createOffer();
      if (this.connection !== connection) return;
      this.ws?.send({ type: 'offer', req: 'o', sdp });
    } catch (e) {
      if (this.connection === connection) {
        this.fail(new SwitchboardError('INTERNAL', `the browser could not make an offer: ${String(e)}`));
      }
    }
  }

  private async applyAnswer(sdp: string): Promise<void> {
    const connection = this.connection;
    if (!connection) return;
    try {
      await connection.applyAnswer(sdp, this.url.hostname);
    } catch (e) {
      if (this.connection === connection) {
        this.fail(new SwitchboardError('NOT_CONNECTED', `the server's answer was refused: ${String(e)}`));
      }
    }
  }

  private onDataConnected(): void {
    if (this.state !== 'negotiating') return;
    this.state = 'connected';
    this.clearDeadline();
    this.handlers.connected();
  }

  private armDeadline(ms: number, why: string): void {
    this.clearDeadline();
    this.deadline = setTimeout(() => {
      this.deadline = undefined;
      this.fail(new SwitchboardError('NOT_CONNECTED', why));
    }, ms);
  }

  // Every ping interval: with a silence limit, a server that said nothing for that long is
  // gone. A check this late means the page itself was stalled (a long task, a background
  // tab's throttled timers): what the server sent meanwhile is still unread, so the silence
  // is not its.
  private scheduleSilenceCheck(): void {
    const limit = this.config.silenceLimitMs ?? 0;
    const interval = this.config.pingIntervalMs ?? PING_INTERVAL_MS;
    if (limit <= 0) return;
    const due = performance.now() + interval;
    this.clearSilenceCheck();
    this.silenceTimer = setTimeout(() => {
      this.silenceTimer = undefined;
      const ws = this.ws;
      if (this.state === 'over' || !ws) return;
      const now = performance.now();
      const silent = now - ws.lastHeard;
      const stalled = now - due > interval;
      if (silent > limit && !stalled) {
        this.fail(new SwitchboardError('NOT_CONNECTED', `no word from the server for ${Math.round(silent)} ms`));
        return;
      }
      this.scheduleSilenceCheck();
    }, interval);
  }

  private clearSilenceCheck(): void {
    if (this.silenceTimer !== undefined) clearTimeout(this.silenceTimer);
    this.silenceTimer = undefined;
  }

  private clearDeadline(): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  // Over: report once, then take everything down.
  private fail(error: SwitchboardError): void {
    if (this.state === 'over') return;
    this.state = 'over';
    this.closeParts();
    this.handlers.closed(error);
  }

  private closeParts(): void {
    this.clearDeadline();
    this.clearSilenceCheck();
    this.connection?.close();
    this.connection = undefined;
    this.ws?.close();
    this.ws = undefined;
  }
}
