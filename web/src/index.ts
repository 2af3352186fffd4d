// The Web SDK's public exports.
export { ERROR_CODES, SwitchboardError, type ErrorCode } from './core/errors.js';
export type { Priority, ReceiverCloseReason, Reliability } from './core/options.js';
// The DataChannel rules without I/O, for tools and tests that speak the frame format.
export * as core from './core/index.js';
// The client: joining calls, senders and receivers.
export { CallClient, type JoinOptions } from './client/callClient.js';
export { Call } from './client/call.js';
export type {
  CallEvents,
  ConnectionState,
  ConnectionStateChangedEvent,
  ParticipantInfo,
  TransportInfo,
} from './client/callEngine.js';
export {
  DataChannelFeature,
  DataChannelReceiver,
  DataChannelSender,
  type DataChannelFeatureEvents,
  type DataChannelMessage,
  type DataChannelReceiverEvents,
  type DataChannelSenderEvents,
} from './client/dataChannel.js';
export type { SenderOptions, Identity } from './core/options.js';
// End-to-end encryption keys (JoinOptions.e2ee, Call.setE2eeKeys).
export { E2EE_OVERHEAD, E2eeKeys, type E2eeKey } from './client/e2eeKeys.js';
// File transfer and chat conventions (docs/protocol.md, "Applications on DataChannels").
export {
  CHAT_CHANNEL,
  FILE_CHANNEL,
  FileTransfer,
  FileTransferError,
  IncomingFile,
  OutgoingFile,
  type FileOffer,
  type FileTransferEvents,
  type IncomingFileEvents,
  type OutgoingFileEvents,
  type SendFileOptions,
} from './files/fileTransfer.js';
