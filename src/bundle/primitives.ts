/**
 * The one extension point of the verification path: a runtime may install native versions of the
 * primitives below; every other runtime (browsers, Hermes) keeps the pure-JS ones in bytes.ts and
 * ed25519.ts. Each native function must give exactly the verdicts and bytes of the pure one (the
 * Node adapter, node-primitives.ts, is tested against them on the shared vectors), so installing
 * one changes speed, never a verdict.
 */
export type HashFunction = (bytes: Uint8Array) => Uint8Array;

export interface NativePrimitives {
  sha256?: HashFunction;
  sha512?: HashFunction;
  /** The text of bytes that are all ASCII (below 0x80), else undefined: strict UTF-8 decoding then decides. */
  asciiDecode?: (bytes: Uint8Array) => string | undefined;
  /** Canonical standard base64 (SPEC §1.1) to bytes, null for anything else: base64DecodeStrict's verdicts. */
  base64Decode?: (text: string) => Uint8Array | null;
  /**
   * The Ed25519 equation only, cofactorless (R == [S]B - [k]A as encoded bytes). Called only on
   * inputs that passed the SPEC §2.3 pre-checks in ed25519.ts (S < L; A and R canonical, not of
   * small order; A on the curve), with private copies of the three arguments.
   */
  ed25519Verify?: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;
}

let installed: Readonly<NativePrimitives> = {};

/** Installs these native primitives in place of the ones installed before; `usePrimitives({})` is pure JS again. */
export function usePrimitives(p: NativePrimitives): void {
  installed = { ...p };
}

export function nativePrimitives(): Readonly<NativePrimitives> {
  return installed;
}
