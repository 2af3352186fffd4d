// A participant's whole data path: the ServerLink, and in a 1:1 call the direct
// PeerConnection to the other participant beside it (docs/protocol.md, "Peer-to-peer").
// The twin of src/client/call_transport.cpp, byte for byte on the wire, so a browser and a
// native participant go direct with each other.
//
// When the server asks for it (signaling `p2p`), the connection to the peer is set up; once
// it is up and the call still has exactly the two of us, our frames go direct, and they go
// back through the server when a third participant joins, the peer leaves, or the direct
// connection fails; a failure is reported (`p2p_failed`), and the server's next `p2p` for
// the pair tries again. The core's DirectSendLog and DirectReceiveLog make every switch lose,
// duplicate and reorder no durable message:
//   - entering the direct path, SWITCH frames go through the server first, and the peer
//     holds our direct messages until they arrive;
//   - on the direct path the peer acknowledges what it took in (stream 4, once per task
//     turn, and every second as a heartbeat); leaving it, everything not acknowledged goes
//     again through the server (RESENT) before anything new, and the peer takes in each
//     message once, whichever path brings it first.
//
// When the connection to the server is lost after the call was up, the transport joins
// again by itself (docs/protocol.md, "Reconnecting and resuming"): with backoff, within the
// reconnect window, resuming the session when the server still holds it. On a resumable
// link both sides count the durable transport messages they took in and acknowledge them
// (`ack`); a ServerPathLog keeps what the server has not confirmed, and a resumed link sends
// that again first, so nothing is lost or doubled (reconnect.ts).
//
// Handlers never run inside a call into the transport.

import { SwitchboardError } from '../core/errors.js';
import { decodeFrame, FrameType, isPathControl, type DecodedFrame } from '../core/frame.js';
import type { ParticipantId } from '../core/options.js';
import {
  DirectReceiveLog,
  DirectSendLog,
  DURABLE_CLASSES,
  decodeDirectAck,
  durableClass,
  durableMessagesIn,
  encodeDirectAck,
  encodeSwitchFrame,
  splitResentPayload,
  type ClassedFrame,
} from '../core/pathSwitch.js';
import { classOfStream, streamOf, type TrafficClass } from '../core/trafficClass.js';
import { CONTROL_STREAM } from './dataConnection.js';
import { PeerConnection } from './peerConnection.js';
import {
  Backoff,
  RESUMABLE_PING_INTERVAL_MS,
  SERVER_ACK_DELAY_MS,
  ServerPathLog,
  SILENCE_LIMIT_MS,
  type DurableCounts,
} from './reconnect.js';
import { ServerLink, type ServerLinkConfig } from './serverLink.js';
import type {
  ErrorMessage,
  IceServerEntry,
  JoinedMessage,
  P2pMessage,
  ParticipantEntry,
  ParticipantLeftMessage,
  PeerSignal,
} from './signaling.js';

// Durable messages sent directly and not yet acknowledged, at most: past it, send() refuses
// until acknowledgements come.
export const MAX_UNACKED = 8 * 1024 * 1024;
// Held direct messages of a peer's session, at most (the peer's own bound plus a message);
// more is a broken peer, and its direct path is closed.
export const MAX_HELD = 16 * 1024 * 1024;
// While the direct connection is up each side acknowledges at least this often; a sender
// that hears nothing on the control stream for DIRECT_SILENCE_MS takes the direct path for
// dead (ICE consent alone takes 30 s) and goes back to the server.
export const ACK_INTERVAL_MS = 1000;
export const DIRECT_SILENCE_MS = 5000;
// Sessions remembered per peer, for RESENT frames that trail their session.
const MAX_SESSIONS_PER_PEER = 4;

// After `reconnecting`, the server admitted us again. Resumed: the server had kept our
// session (roster changes during the gap were reported as participantJoined/Left before
// this). Not resumed: a new participant; what we had sent and the server had not
// confirmed is gone: `unconfirmed` DATA messages.
export interface Rejoined {
  resumed: boolean;
  unconfirmed: number;
}

export interface TransportHandlers {
  joined(joined: JoinedMessage): void;
  // The data connection to the server is up: the first time, and again after each
  // `rejoined`.
  connected(): void;
  // The connection to the server was lost after the call was up; joining again.
  reconnecting(error: SwitchboardError): void;
  rejoined(joined: JoinedMessage, rejoined: Rejoined): void;
  participantJoined(participant: ParticipantEntry): void;
  participantLeft(left: ParticipantLeftMessage): void;
  // A transport message relayed by the server: frames stamped with their senders.
  data(message: Uint8Array): void;
  // A transport message straight from `peer`: unstamped frames, all from that participant.
  peerData(peer: ParticipantId, message: Uint8Array): void;
  error(error: ErrorMessage): void;
  writable(): void;
  closed(error: SwitchboardError): void;
  // Our frames now travel directly to `peer`, or (undefined) through the server.
  pathChanged(peer: ParticipantId | undefined): void;
}

// What the transport adds to the server link's configuration: after the call was up, a
// lost connection is re-established for this long (0: a loss ends the call).
export interface TransportConfig extends ServerLinkConfig {
  reconnectTimeoutMs: number;
}

// The direct session being set up or used.
interface Direct {
  peer: ParticipantId;
  session: number;
  link: PeerConnection;
  up: boolean;
}

const now = (): number => performance.now();

export class CallTransport {
  private readonly config: TransportConfig;
  private readonly handlers: TransportHandlers;
  private link: ServerLink;
  private left = false;
  private everConnected = false;  // the first data connection came up: losses reconnect
  private serverConnected = false;  // the server link's data connection is up

  // Reconnecting (config.reconnectTimeoutMs > 0).
  private reconnecting = false;
  private readonly backoff: Backoff;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  // The server path's acknowledgements, on a resumable link (the server gave a token).
  private readonly serverLog = new ServerPathLog();
  private serverAckTimer: ReturnType<typeof setTimeout> | undefined;
  private blockedOnServer = false;
  // Sent before the connection was lost and not confirmed: a resumed link sends them again
  // first, as they were (they stay in serverLog until acknowledged).
  private replay: ClassedFrame[] = [];

  private self: ParticipantId = 0;
  private readonly others = new Set<ParticipantId>();
  private iceServers: IceServerEntry[] = [];

  private direct: Direct | undefined;
  // Set while our frames go direct (direct is up).
  private sendLog: DirectSendLog | undefined;
  // SWITCH and RESENT frames for the server path; nothing new goes to the server before them.
  private pending: Array<[TrafficClass, Uint8Array]> = [];
  private pendingBytes = 0;
  private blockedOnUnacked = false;
  // The peers' sessions, for holding and for dropping what arrives twice; a few recent
  // sessions per peer are kept (a RESENT may trail its session). Key: `${peer}:${session}`.
  private readonly receiveLogs = new Map<string, { peer: ParticipantId; log: DirectReceiveLog }>();
  private ackPosted = false;
  private writablePosted = false;
  private heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  private lastControl = 0;  // when the peer's control stream last spoke
  private lastAckSent = 0;  // when ours last did

  // Throws INVALID_ARGUMENT for a server that is not a ws(s) or http(s) URL.
  constructor(config: TransportConfig, handlers: TransportHandlers) {
    this.config =
      config.reconnectTimeoutMs > 0
        ? { ...config, resumable: true, pingIntervalMs: RESUMABLE_PING_INTERVAL_MS, silenceLimitMs: SILENCE_LIMIT_MS }
        : config;
    this.handlers = handlers;
    this.backoff = new Backoff(config.reconnectTimeoutMs);
    this.link = this.makeLink();
  }

  private makeLink(): ServerLink {
    // Only the current link is heard: a buried one says nothing more.
    const link: ServerLink = new ServerLink(
      { ...this.config, resume: this.serverLog.resumeRequest },
      {
        joined: (j) => {
          if (link !== this.link) return;
          if (this.reconnecting) this.onRejoined(j);
          else this.onJoined(j);
        },
        connected: () => {
          if (link === this.link) this.onLinkConnected();
        },
        participantJoined: (p) => {
          if (link === this.link) this.onParticipantJoined(p);
        },
        participantLeft: (l) => {
          if (link === this.link) this.onParticipantLeft(l);
        },
        data: (d) => {
          if (link === this.link) this.onServerData(d);
        },
        durableReceived: (stream) => {
          if (link === this.link) this.onDurableReceived(stream);
        },
        ack: (received) => {
          if (link === this.link) this.onServerAck(received);
        },
        error: (e) => {
          if (link === this.link) this.handlers.error(e);
        },
        writable: () => {
          if (link === this.link) this.onServerWritable();
        },
        p2p: (m) => {
          if (link === this.link) this.onP2p(m);
        },
        peerSignal: (m) => {
          if (link === this.link) this.onPeerSignal(m);
        },
        closed: (e) => {
          if (link === this.link) this.onLinkClosed(link, e);
        },
      },
    );
    return link;
  }

  start(): void {
    this.link.start();
  }

  // ---- Sending ----

  // One transport message of class `cls`. True when taken; false when it must wait for
  // `writable`. Throws NOT_CONNECTED before `connected` or after `closed`.
  send(cls: TrafficClass, message: Uint8Array): boolean {
    if (this.left) throw this.notConnected('the call was left');
    if (this.sendLog && this.direct) {
      const durable = cls.reliability === 'Durable';
      if (durable && this.sendLog.unackedBytes >= MAX_UNACKED) {
        this.blockedOnUnacked = true;
        return false;
      }
      // Read before sending: a send that fails may report `failed`, closing the session, first.
      const session = this.sendLog.session;
      let sent: boolean;
      try {
        sent = this.direct.link.send(streamOf(cls), message);
      } catch {
        // The direct connection is gone; its `failed` may not have come yet. Back to the
        // server outside this call; the message goes there once the resends are out.
        setTimeout(() => this.onDirectFailed(session, 'direct send failed'), 0);
        return false;
      }
      if (sent && durable) this.sendLog.sent(cls.priority, message);
      return sent;
    }
    if (this.reconnecting || (this.everConnected && !this.serverConnected)) return false;  // `writable` when back
    if (this.pending.length > 0 || this.replay.length > 0) {
      this.flushPending();
      if (this.pending.length > 0 || this.replay.length > 0) return false;
    }
    return this.sendToServer(cls, message);
  }

  // Every transport message for the server goes here, except replays: on a resumable link
  // durable ones are kept until the server confirms them, at most MAX_SERVER_UNACKED bytes.
  private sendToServer(cls: TrafficClass, message: Uint8Array): boolean {
    if (!this.serverLog.hasRoom(cls)) {
      this.blockedOnServer = true;
      return false;
    }
    const sent = this.link.send(streamOf(cls), message);
    if (sent) this.serverLog.sent(cls, message);
    return sent;
  }

  // Everything handed to the transport and not yet known to be delivered.
  get bufferedAmount(): number {
    let total = this.link.bufferedAmount + this.pendingBytes;
    if (this.direct) total += this.direct.link.bufferedAmount;
    if (this.sendLog) total += this.sendLog.unackedBytes;
    total += this.serverLog.unackedBytes;
    return total;
  }

  // Sends `leave`; no handler runs after it.
  leave(): void {
    if (this.left) return;
    this.left = true;
    this.stopTimers();
    this.closeDirect();
    this.link.leave();
  }

  private flushPending(): void {
    // The direct path may come up before the server's: its frames wait for `connected`.
    if (!this.serverConnected || !this.link.connected) return;
    // What a resumed link owes the server comes first, as it was (still in serverLog).
    while (this.replay.length > 0) {
      const { cls, bytes } = this.replay[0]!;
      try {
        if (!this.link.send(streamOf(cls), bytes)) return;  // `writable` resumes
      } catch {
        // The server link is going down (its `closed` follows): a resume starts it over.
      }
      this.replay.shift();
    }
    while (this.pending.length > 0) {
      const [cls, bytes] = this.pending[0]!;
      try {
        if (!this.sendToServer(cls, bytes)) return;  // `writable` or an `ack` resumes
      } catch {
        // The server link is going down (its `closed` follows): this one is done.
      }
      this.pendingBytes -= bytes.length;
      this.pending.shift();
    }
  }

  private onServerWritable(): void {
    const hadPending = this.pending.length > 0 || this.replay.length > 0;
    this.flushPending();
    if (hadPending && (this.pending.length > 0 || this.replay.length > 0)) return;
    this.handlers.writable();
  }

  private postWritable(): void {
    if (this.writablePosted) return;
    this.writablePosted = true;
    setTimeout(() => {
      this.writablePosted = false;
      if (!this.left) this.handlers.writable();
    }, 0);
  }

  // ---- Losing the server and coming back ----

  private onLinkConnected(): void {
    this.serverConnected = true;
    const back = this.reconnecting;
    this.reconnecting = false;
    this.everConnected = true;
    this.flushPending();  // replays, then SWITCH or RESENT frames queued meanwhile
    this.handlers.connected();
    if (back) this.postWritable();
  }

  private onLinkClosed(link: ServerLink, error: SwitchboardError): void {
    this.serverConnected = false;
    if (this.left) return;
    const lost = link.lost;
    const t = now();
    if (!this.reconnecting) {
      if (this.config.reconnectTimeoutMs <= 0 || !this.everConnected || !lost) {
        this.closeDirect();
        this.stopTimers();
        this.handlers.closed(error);
        return;
      }
      console.warn(`switchboard: lost the connection to the server (${error.message}); reconnecting`);
      this.reconnecting = true;
      this.backoff.start(t);
      this.clearServerAck();
      // The direct path goes too: what the peer did not acknowledge is resent through the
      // server once it is back (pending).
      if (this.direct) {
        this.leaveDirect(true);
        this.closeDirect();
      }
      this.handlers.reconnecting(error);
      if (this.left) return;
    } else if (!lost || this.backoff.expired(t)) {
      this.closeDirect();
      this.stopTimers();
      const seconds = Math.round(this.config.reconnectTimeoutMs / 1000);
      this.handlers.closed(
        new SwitchboardError(
          error.code,
          lost
            ? `could not reconnect to the server within ${seconds} s: ${error.message}`
            : `reconnecting failed: ${error.message}`,
        ),
      );
      return;
    }
    this.retryTimer = setTimeout(() => this.retry(), this.backoff.delay(t));
  }

  private retry(): void {
    this.retryTimer = undefined;
    if (this.left || !this.reconnecting) return;
    this.link = this.makeLink();
    this.link.start();
  }

  private onRejoined(joined: JoinedMessage): void {
    const received = joined.received;
    const resumed = joined.resumed === true && joined.participantId === this.self && received !== undefined;
    let unconfirmed = 0;
    if (resumed) {
      // The server took in what it says; the rest goes again, first.
      const { replay, error } = this.serverLog.resumed(received);
      if (error) console.warn(`switchboard: the server's resume counts are wrong: ${error.message}`);
      this.replay = replay;
    } else {
      // A new participant: what the old session had not confirmed is gone, and so is
      // everything addressed by the old participant ids.
      unconfirmed = this.serverLog.restart();
      for (const [, bytes] of this.pending) unconfirmed += durableMessagesIn(bytes);
      this.pending = [];
      this.pendingBytes = 0;
      this.replay = [];
      this.receiveLogs.clear();
    }
    this.blockedOnServer = false;
    this.serverLog.setToken(joined.resumeToken);
    this.iceServers = joined.iceServers;
    if (resumed) {
      // Who came and went while we were away; their announcements went to the dead link.
      const present = new Set(joined.participants.map((p) => p.participantId));
      for (const id of [...this.others]) {
        if (!present.has(id)) this.onParticipantLeft({ type: 'participant_left', participantId: id, identity: '' });
      }
      for (const p of joined.participants) {
        if (!this.others.has(p.participantId)) this.onParticipantJoined(p);
      }
    } else {
      this.self = joined.participantId;
      this.others.clear();
      for (const p of joined.participants) this.others.add(p.participantId);
    }
    this.handlers.rejoined(joined, { resumed, unconfirmed });
  }

  private onDurableReceived(stream: number): void {
    if (!this.serverLog.tookIn(stream) || this.serverAckTimer !== undefined) return;
    this.serverAckTimer = setTimeout(() => {
      this.serverAckTimer = undefined;
      if (this.serverConnected && this.serverLog.resumable) this.link.sendAck(this.serverLog.received);
    }, SERVER_ACK_DELAY_MS);
  }

  private onServerAck(received: DurableCounts): void {
    const refused = this.serverLog.acknowledged(received);
    if (refused) {
      console.warn(`switchboard: the server acknowledged more than we sent: ${refused.message}`);
      return;
    }
    if (this.blockedOnServer && this.serverLog.hasRoom(durableClass(0))) {
      this.blockedOnServer = false;
      this.handlers.writable();
    }
  }

  private clearServerAck(): void {
    if (this.serverAckTimer !== undefined) clearTimeout(this.serverAckTimer);
    this.serverAckTimer = undefined;
  }

  // ---- The call's roster ----

  private onJoined(joined: JoinedMessage): void {
    this.serverLog.setToken(joined.resumeToken);
    this.self = joined.participantId;
    for (const p of joined.participants) this.others.add(p.participantId);
    this.iceServers = joined.iceServers;
    this.handlers.joined(joined);
  }

  private onParticipantJoined(info: ParticipantEntry): void {
    this.others.add(info.participantId);
    // A third participant: everyone goes through the server again.
    if (this.direct && this.others.size > 1) {
      this.leaveDirect(true);
      this.closeDirect();
    }
    this.handlers.participantJoined(info);
  }

  private onParticipantLeft(left: ParticipantLeftMessage): void {
    this.others.delete(left.participantId);
    if (this.direct && this.direct.peer === left.participantId) {
      this.leaveDirect(false);
      this.closeDirect();
    }
    for (const [key, entry] of this.receiveLogs) {
      if (entry.peer === left.participantId) this.receiveLogs.delete(key);
    }
    this.handlers.participantLeft(left);
  }

  // ---- Setting up the direct path ----

  private onP2p(p2p: P2pMessage): void {
    if (!this.config.p2p || this.left || p2p.peer === this.self) return;
    if (this.direct) {  // a new session replaces the old one
      this.leaveDirect(this.others.has(p2p.peer));
      this.closeDirect();
    }
    const session = p2p.session;
    let link: PeerConnection;
    try {
      link = this.newPeerConnection(p2p);
    } catch (e) {
      // The browser refused the configuration (an ICE server it cannot use): stay on the server.
      console.warn(`switchboard: no direct connection to participant ${p2p.peer}: ${String(e)}`);
      return;
    }
    this.direct = { peer: p2p.peer, session, link, up: false };
    this.receiveLog(p2p.peer, session);  // so that its SWITCH finds it
    link.start();
  }

  private newPeerConnection(p2p: P2pMessage): PeerConnection {
    const session = p2p.session;
    return new PeerConnection(
      { peer: p2p.peer, session, offerer: p2p.offer, iceServers: this.iceServers },
      {
        signal: (m) => this.link.signal(m),
        connected: () => this.onDirectUp(session),
        message: (stream, data) => this.onDirectMessage(session, stream, data),
        writable: () => {
          if (this.sendLog?.session === session) this.handlers.writable();
        },
        failed: (e) => this.onDirectFailed(session, e.message),
      },
    );
  }

  private onPeerSignal(message: PeerSignal): void {
    const direct = this.direct;
    if (!direct || message.peer !== direct.peer || message.session !== direct.session) return;
    direct.link.handle(message);
  }

  private onDirectUp(session: number): void {
    if (!this.direct || this.direct.session !== session) return;
    this.direct.up = true;
    this.lastControl = now();
    this.armHeartbeat();
    if (this.directAllowed()) this.enterDirect();
  }

  // The direct connection failed (ICE, DTLS or SCTP, not up in time, a direct send, or the
  // peer silent): back to the server, and `p2p_failed` so that the server tries again later.
  // The other ways off the direct path (roster changes, a new session, leaving, reconnecting,
  // a peer breaking the protocol) close it without coming here, and say nothing. Once per
  // session: the session is closed here, so a later report of it finds no direct.
  private onDirectFailed(session: number, why: string): void {
    if (!this.direct || this.direct.session !== session) return;
    const peer = this.direct.peer;
    console.info(`switchboard: direct connection to participant ${peer} failed (${why}); using the server`);
    const peerPresent = this.others.has(peer);
    this.leaveDirect(peerPresent);
    this.closeDirect();
    // A peer no longer in the call needs no new try.
    if (peerPresent && !this.left && !this.reconnecting) this.link.sendP2pFailed(peer, session);
  }

  private directAllowed(): boolean {
    const d = this.direct;
    return !!d && d.up && !this.left && this.others.size === 1 && this.others.has(d.peer);
  }

  // ---- Switching ----

  private enterDirect(): void {
    if (this.sendLog || !this.direct) return;
    const { peer, session } = this.direct;
    this.sendLog = new DirectSendLog(session);
    for (let i = 0; i < DURABLE_CLASSES; i++) {
      const cls = durableClass(i);
      const frame = encodeSwitchFrame(session, cls.priority, peer);
      this.pendingBytes += frame.length;
      this.pending.push([cls, frame]);
    }
    this.flushPending();
    this.handlers.pathChanged(peer);
    this.handlers.writable();  // what waited for the server may go now
  }

  // Back to the server path; the peer's unacknowledged messages go again unless it left.
  private leaveDirect(peerPresent: boolean): void {
    if (!this.sendLog || !this.direct) return;
    if (peerPresent) {
      for (const { cls, bytes } of this.sendLog.takeResends(this.direct.peer)) {
        this.pendingBytes += bytes.length;
        this.pending.push([cls, bytes]);
      }
    }
    this.sendLog = undefined;
    this.blockedOnUnacked = false;
    this.flushPending();
    this.handlers.pathChanged(undefined);
    this.postWritable();
  }

  private closeDirect(): void {
    this.sendLog = undefined;  // leaveDirect took what had to go again
    if (!this.direct) return;
    this.direct.link.close();
    this.direct = undefined;
    if (this.heartbeatTimer !== undefined) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  // ---- Receiving ----

  private receiveLog(peer: ParticipantId, session: number): DirectReceiveLog {
    const key = `${peer}:${session}`;
    const found = this.receiveLogs.get(key);
    if (found) return found.log;
    const log = new DirectReceiveLog(session);
    // A few sessions per peer: its oldest goes first (never the one just made), so no
    // participant can push out the logs of another.
    const sessions = [...this.receiveLogs.values()].filter((e) => e.peer === peer).map((e) => e.log.session);
    if (sessions.length >= MAX_SESSIONS_PER_PEER) {
      this.receiveLogs.delete(`${peer}:${Math.min(...sessions)}`);
    }
    this.receiveLogs.set(key, { peer, log });
    return log;
  }

  private onServerData(data: Uint8Array): void {
    if (!this.config.p2p) {  // nobody goes direct with us, so no path control comes
      this.handlers.data(data);
      return;
    }
    // Path-control frames are taken out; the runs of frames between them go on in order.
    let run = 0;
    let offset = 0;
    while (offset < data.length) {
      const at = offset;
      const decoded = decodeFrame(data, offset);
      if (!decoded.ok) break;  // the endpoint counts what cannot be framed
      offset = decoded.value.next;
      if (!isPathControl(decoded.value.frame.header.type)) continue;
      if (at > run) this.handlers.data(data.subarray(run, at));
      run = offset;
      this.onControlFrame(decoded.value.frame);
      if (this.left) return;
    }
    if (run < data.length) this.handlers.data(data.subarray(run));
  }

  private onControlFrame(frame: DecodedFrame): void {
    const h = frame.header;
    if (h.from === undefined) return;
    const peer = h.from;
    const history = this.receiveLog(peer, h.sequence);
    if (h.type === FrameType.Switch) {
      const released = history.onSwitch(h.priority);
      for (const message of released) this.handlers.peerData(peer, message);
      if (released.length > 0) this.postAck();
      return;
    }
    const resent = splitResentPayload(frame.payload);
    if (history.onResent(h.priority, resent.index) === 'deliver') {
      this.handlers.peerData(peer, resent.message);
    }
  }

  private onDirectMessage(session: number, stream: number, message: Uint8Array): void {
    const direct = this.direct;
    if (!direct || direct.session !== session || this.left) return;
    const peer = direct.peer;
    if (stream === CONTROL_STREAM) {
      this.lastControl = now();
      const ack = decodeDirectAck(message);
      if (!ack.ok) {
        console.warn(`switchboard: participant ${peer} sent a bad direct-path control message: ${ack.error.message}`);
        return;
      }
      if (!this.sendLog) return;
      const refused = this.sendLog.acknowledged(ack.value);
      if (refused) {
        console.warn(`switchboard: participant ${peer}: ${refused.message}; back to the server path`);
        this.leaveDirect(true);
        this.closeDirect();
        return;
      }
      if (this.blockedOnUnacked && this.sendLog.unackedBytes < MAX_UNACKED) {
        this.blockedOnUnacked = false;
        this.handlers.writable();
      }
      return;
    }
    const cls = classOfStream(stream);
    if (!cls) return;
    if (cls.reliability === 'Lossy') {
      this.handlers.peerData(peer, message);
      return;
    }
    const history = this.receiveLog(peer, session);
    switch (history.onDirect(cls.priority, message)) {
      case 'deliver':
        this.handlers.peerData(peer, message);
        this.postAck();
        break;
      case 'hold':
        if (history.heldBytes > MAX_HELD) {
          console.warn(
            `switchboard: participant ${peer} sent ${history.heldBytes} bytes directly before its switch; ` +
              'closing the direct path',
          );
          this.leaveDirect(true);
          this.closeDirect();
          return;
        }
        break;
      case 'drop':
        break;
    }
  }

  // One acknowledgement per task turn, whatever it took in.
  private postAck(): void {
    if (this.ackPosted) return;
    this.ackPosted = true;
    setTimeout(() => {
      this.ackPosted = false;
      this.sendAck();
    }, 0);
  }

  private sendAck(): void {
    const direct = this.direct;
    if (!direct || !direct.up || this.left) return;
    const entry = this.receiveLogs.get(`${direct.peer}:${direct.session}`);
    if (!entry) return;
    const ack = entry.log.ackDue();
    if (!ack) return;
    this.lastAckSent = now();
    let sent = false;
    try {
      sent = direct.link.send(CONTROL_STREAM, encodeDirectAck(ack));
    } catch {
      return;  // the connection is gone; its `failed` follows
    }
    // A full buffer: the next message taken in acknowledges again, with the newer counts.
    if (!sent) this.postAck();
  }

  // Every ACK_INTERVAL_MS while the direct connection is up: an acknowledgement if none went
  // out meanwhile (the peer's proof that this side and the path are alive), and the check
  // that the peer's have come (the peer acknowledges every second while its side is up,
  // whether or not either of us sends direct), as the C++ SDK does.
  private armHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => this.onHeartbeat(), ACK_INTERVAL_MS);
  }

  private onHeartbeat(): void {
    this.heartbeatTimer = undefined;
    const direct = this.direct;
    if (!direct || !direct.up || this.left) return;
    const t = now();
    if (t - this.lastControl > DIRECT_SILENCE_MS) {
      this.onDirectFailed(direct.session, `no acknowledgement from the peer for ${DIRECT_SILENCE_MS} ms`);
      return;
    }
    if (t - this.lastAckSent >= ACK_INTERVAL_MS) {
      const entry = this.receiveLogs.get(`${direct.peer}:${direct.session}`);
      if (entry) {
        try {
          direct.link.send(CONTROL_STREAM, encodeDirectAck(entry.log.currentAck()));
        } catch {
          // gone; its `failed` follows
        }
        this.lastAckSent = t;
      }
    }
    this.armHeartbeat();
  }

  private stopTimers(): void {
    for (const timer of [this.heartbeatTimer, this.retryTimer]) {
      if (timer !== undefined) clearTimeout(timer);
    }
    this.heartbeatTimer = undefined;
    this.retryTimer = undefined;
    this.clearServerAck();
  }

  private notConnected(why: string): SwitchboardError {
    return new SwitchboardError('NOT_CONNECTED', why);
  }
}
