// Errors are values with a code a user can act on: the codes of
// shared/agent-protocol.md, the same as the C++ SDK's ErrorCode names.

export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'INVALID_CHANNEL_ID',
  'NO_AVAILABLE_CHANNEL_ID',
  'SENDER_CLOSED',
  'MESSAGE_EMPTY',
  'MESSAGE_TOO_LARGE',
  'BUFFER_FULL',
  'TRAFFIC_LIMITED',
  'TOO_MANY_PARTICIPANTS',
  'NO_VALID_PARTICIPANT',
  'NOT_CONNECTED',
  'UNAUTHORIZED',
  'CALL_FULL',
  'INTERNAL',
  // End-to-end encryption: a received message could not be opened (a key we lack, another
  // key, not sealed, or altered on the way). It is not delivered.
  'DECRYPTION_FAILED',
  'SERVER_FULL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(name: unknown): name is ErrorCode {
  return typeof name === 'string' && (ERROR_CODES as readonly string[]).includes(name);
}

export class SwitchboardError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'SwitchboardError';
    this.code = code;
  }
}

// For pure functions that report failure as a value (parsers) instead of throwing.
export type Result<T> = { ok: true; value: T } | { ok: false; error: SwitchboardError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T>(code: ErrorCode, message: string): Result<T> {
  return { ok: false, error: new SwitchboardError(code, message) };
}
