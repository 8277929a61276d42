/**
 * Typed errors with stable codes. Every error a user can see says what was expected, what was
 * found, and (where there is one) what to do next. The CLI maps `exitCode` straight to the process
 * exit status: 2 for usage or input errors, 1 for a check that failed.
 */
export type ErrorCode =
  | 'USAGE'
  | 'INPUT_NOT_FOUND'
  | 'INPUT_UNREADABLE'
  | 'PEM_MALFORMED'
  | 'PEM_ENCRYPTED'
  | 'DER_MALFORMED'
  | 'CERT_MALFORMED'
  | 'KEY_MALFORMED'
  | 'CSR_MALFORMED'
  | 'PKCS7_MALFORMED'
  | 'NOTHING_FOUND'
  | 'CONFIG_MALFORMED'
  | 'CONFIG_UNSUPPORTED'
  | 'TARGET_INVALID'
  | 'DNS'
  | 'REFUSED'
  | 'TIMEOUT'
  | 'HANDSHAKE'
  | 'TLS_ALERT'
  | 'NOT_TLS'
  | 'CHAIN_TOO_LONG'
  | 'NETWORK'
  | 'UNTRUSTED'
  | 'NO_PINS'
  | 'TOO_LARGE'
  | 'OUTPUT_UNWRITABLE'
  | 'OUTPUT_EXISTS'
  | 'KEY_UNSAFE'
  | 'PIN_MISMATCH'
  | 'STATE_BUSY'
  | 'PROPOSAL_TRANSITION'
  | 'STORAGE_UNSAFE'
  | 'BUNDLE_TOO_LARGE'
  | 'BUNDLE_ENVELOPE'
  | 'BUNDLE_PAYLOAD_TYPE'
  | 'BUNDLE_SIGNATURE'
  | 'BUNDLE_PAYLOAD'
  | 'BUNDLE_AUDIENCE'
  | 'BUNDLE_ROLLBACK'
  | 'BUNDLE_EXPIRED'
  | 'BUNDLE_NOT_YET_VALID'
  | 'BUNDLE_KEYSET'
  | 'BUNDLE_TRUST_EXPIRED'
  | 'BUNDLE_FETCH';

export class PinctlError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly exitCode: 1 | 2;
  constructor(code: ErrorCode, message: string, opts: { hint?: string; exitCode?: 1 | 2; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 2;
  }
  toJSON(): { code: ErrorCode; message: string; hint?: string } {
    return { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}) };
  }
}

/** The user gave something we cannot use: a bad file, a bad flag, a bad config. Exit 2. */
export class InputError extends PinctlError {}

/** The bytes of a certificate, key, CSR or PKCS#7 container are not what they claim to be. */
export class ParseError extends InputError {}

/** An endpoint could not be probed: DNS, refused, timeout, not TLS, alert, oversized chain. */
export class ProbeError extends PinctlError {
  constructor(code: ErrorCode, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(code, message, { ...opts, exitCode: 2 });
  }
}

export function isPinctlError(e: unknown): e is PinctlError {
  return e instanceof PinctlError;
}

/** One line for an unknown throwable, never a stack trace. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] ?? String(e);
  return String(e);
}
