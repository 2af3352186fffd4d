// A hook on whole message payloads (the twin of src/core/payload_cipher.hpp): sealed
// after the sender's checks and before the message is queued (so it knows its sequence
// number), opened after reassembly and before the message becomes readable. End-to-end
// encryption implements it (client/e2eeCipher.ts); the core itself does no cryptography.
//
// Unlike the C++ hook both directions are asynchronous (WebCrypto is): the endpoint keeps
// each receiver's messages, and its close, in arrival order while they open, and the SDK
// seals one message per sender at a time so sequence numbers stay in order.

import type { Identity } from './options.js';

export interface PayloadCipher {
  // Bytes seal() adds to every message.
  readonly overhead: number;
  // This participant's message `sequence` on `channelId`.
  seal(channelId: number, sequence: number, plaintext: Uint8Array): Promise<Uint8Array>;
  // A message from `sender`; rejects with a SwitchboardError (DECRYPTION_FAILED) saying
  // why it could not be opened, which keeps it from being delivered.
  open(sender: Identity, channelId: number, sequence: number, sealed: Uint8Array): Promise<Uint8Array>;
}
