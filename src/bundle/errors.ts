/**
 * Why a bundle was refused, one class per step of docs/SPEC.md §4–5 (tuf-js style), with a stable
 * code. exitCode: 2 when the input is not a bundle at all, 1 when a bundle failed verification.
 */
import { ErrorCode, PinctlError } from '../errors.js';

export type BundleErrorCode = Extract<ErrorCode, `BUNDLE_${string}`>;

export class BundleError extends PinctlError {
  constructor(code: BundleErrorCode, message: string, opts: { hint?: string; exitCode?: 1 | 2; cause?: unknown } = {}) {
    super(code, message, { exitCode: 1, ...opts });
  }
}
/** SPEC §4.1 */
export class TooLargeError extends BundleError {
  constructor(message: string) {
    super('BUNDLE_TOO_LARGE', message);
  }
}
/** SPEC §4.2 */
export class EnvelopeError extends BundleError {
  constructor(message: string, hint?: string) {
    super('BUNDLE_ENVELOPE', message, { hint, exitCode: 2 });
  }
}
/** SPEC §4.3 */
export class PayloadTypeError extends BundleError {
  constructor(message: string) {
    super('BUNDLE_PAYLOAD_TYPE', message);
  }
}
/** SPEC §4.4 */
export class SignatureError extends BundleError {
  constructor(message: string, hint?: string) {
    super('BUNDLE_SIGNATURE', message, { hint });
  }
}
/** SPEC §4.5, §4.9 */
export class PayloadError extends BundleError {
  constructor(message: string) {
    super('BUNDLE_PAYLOAD', message);
  }
}
/** SPEC §4.6 */
export class AudienceError extends BundleError {
  constructor(message: string) {
    super('BUNDLE_AUDIENCE', message);
  }
}
/** SPEC §4.7 */
export class RollbackError extends BundleError {
  constructor(message: string) {
    super('BUNDLE_ROLLBACK', message);
  }
}
/** SPEC §4.8 */
export class ExpiredError extends BundleError {
  constructor(message: string) {
    super('BUNDLE_EXPIRED', message);
  }
}
/** SPEC §4.8 */
export class NotYetValidError extends BundleError {
  constructor(message: string) {
    super('BUNDLE_NOT_YET_VALID', message);
  }
}
/** SPEC §5 */
export class KeysetError extends BundleError {
  constructor(message: string) {
    super('BUNDLE_KEYSET', message);
  }
}
/** SPEC §7.5: the root role (embedded `trustExpires`, or the last rotated root) has expired. */
export class TrustExpiredError extends BundleError {
  constructor(message: string) {
    super('BUNDLE_TRUST_EXPIRED', message, {
      hint: 'the trust embedded in this app has expired: ship an app update with new root keys or a later trustExpires, or publish a keyset that rotates the root (SPEC §7.3.4)',
    });
  }
}
/** Download failures (network, HTTP status, timeout): the bundle never arrived. */
export class FetchError extends BundleError {
  constructor(message: string, hint?: string) {
    super('BUNDLE_FETCH', message, { hint });
  }
}
