/** The SDK's errors: the bundle verification classes (SPEC §4–5) and the connection-time PinningError. */
import { PinctlError } from '../errors.js';

export { PinctlError } from '../errors.js';
export {
  AudienceError,
  BundleError,
  EnvelopeError,
  ExpiredError,
  FetchError,
  KeysetError,
  NotYetValidError,
  PayloadError,
  PayloadTypeError,
  RollbackError,
  SignatureError,
  TooLargeError,
  TrustExpiredError,
} from '../bundle/errors.js';

/** The SDK's storage directory could be written by someone else, or is not a directory of ours. */
export class StorageUnsafeError extends PinctlError {
  constructor(message: string, hint: string) {
    super('STORAGE_UNSAFE', message, { exitCode: 2, hint });
  }
}

export type PinningFailure = 'pin-mismatch' | 'untrusted-root';

/** A TLS connection whose verified chain failed the applied pins or trust roots. */
export class PinningError extends PinctlError {
  readonly host: string;
  readonly port: number;
  readonly reason: PinningFailure;
  /** SPKI SHA-256 of each certificate of the verified chain, leaf first. */
  readonly chainPins: string[];
  /** The pins (or, for untrusted-root, the listed root pins) one of which was required. */
  readonly expectedPins: string[];

  constructor(f: { host: string; port: number; reason: PinningFailure; chainPins: string[]; expectedPins: string[] }) {
    const what = f.reason === 'pin-mismatch' ? 'none of the pinned keys' : 'no trust root listed in the applied trust-root bundle';
    super(
      'PIN_MISMATCH',
      `${f.host}:${f.port}: the verified chain [${list(f.chainPins)}] holds ${what} [${list(f.expectedPins)}]`,
      { exitCode: 1, hint: f.reason === 'pin-mismatch' ? 'the server changed keys or the connection is intercepted; publish a bundle with the new pin if the change is yours' : undefined },
    );
    this.host = f.host;
    this.port = f.port;
    this.reason = f.reason;
    this.chainPins = f.chainPins;
    this.expectedPins = f.expectedPins;
  }
}

function list(pins: string[]): string {
  return pins.length > 8 ? `${pins.slice(0, 8).join(', ')}, … ${pins.length - 8} more` : pins.join(', ');
}
