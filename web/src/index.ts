// The Web SDK's public exports.
export { ERROR_CODES, SwitchboardError, type ErrorCode } from './core/errors.js';
export type { Priority, ReceiverCloseReason, Reliability } from './core/options.js';
// The DataChannel rules without I/O, for tools and tests that speak the frame format.
export * as core from './core/index.js';
