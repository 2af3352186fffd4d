// A call the participant has joined (ACS: Call): who is in it, which path our messages
// take, and call.dataChannel for senders and receivers. A face over the CallEngine.

import type { CallEngine, CallEvents, ConnectionState, ParticipantInfo, TransportInfo } from './callEngine.js';
import type { DataChannelFeature } from './dataChannel.js';
import type { E2eeKeys } from './e2eeKeys.js';

export class Call {
  /** @internal */
  constructor(private readonly engine: CallEngine) {}

  // The call id.
  get id(): string {
    return this.engine.callId;
  }
  // This participant, as the server admitted it.
  get self(): ParticipantInfo {
    return { ...this.engine.self };
  }
  // The others in the call now.
  get participants(): ParticipantInfo[] {
    return this.engine.participants;
  }
  // The path of our own messages: through the server, or direct to the one peer (1:1
  // calls joined with p2p).
  get transport(): TransportInfo {
    return { ...this.engine.transportInfo };
  }
  // False once left or disconnected, and while reconnecting.
  get connected(): boolean {
    return this.engine.connected;
  }
  // The connection to the server: 'connected', 'reconnecting' (lost; joining again by
  // itself, see JoinOptions.reconnectTimeout and the `connectionStateChanged` event), or
  // 'disconnected' (left, cut off, or reconnecting gave up).
  get connectionState(): ConnectionState {
    return this.engine.connectionState;
  }
  get dataChannel(): DataChannelFeature {
    return this.engine.feature;
  }

  // New end-to-end encryption keys for the messages sealed and opened from now on (key
  // rotation: the highest id seals, every id opens). Throws SwitchboardError
  // (INVALID_ARGUMENT) when the call was joined without `e2ee`, or the keys were derived
  // from a passphrase for another call.
  setE2eeKeys(keys: E2eeKeys): void {
    this.engine.setE2eeKeys(keys);
  }

  on<K extends keyof CallEvents>(event: K, listener: (...args: CallEvents[K]) => void): void {
    this.engine.events.on(event, listener);
  }
  off<K extends keyof CallEvents>(event: K, listener: (...args: CallEvents[K]) => void): void {
    this.engine.events.off(event, listener);
  }

  // Lets queued messages, and those still waiting in sendMessage (for room, or being
  // sealed), go out (at most 2 s), then leaves the call. No listener of this
  // call, its senders or receivers runs afterwards. Idempotent.
  leave(): Promise<void> {
    return this.engine.leave();
  }
}
