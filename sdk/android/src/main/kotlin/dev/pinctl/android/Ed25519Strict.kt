package dev.pinctl.android

import com.google.crypto.tink.subtle.Ed25519Verify
import org.bouncycastle.math.ec.rfc8032.Ed25519
import java.security.GeneralSecurityException

/**
 * Strict Ed25519 verification (SPEC §2.3; libsodium's crypto_sign_verify_detached behaviour), the
 * same pre-checks as src/bundle/ed25519.ts, so every client gives the same verdict on the edge cases
 * of "Taming the many EdDSAs" (2020):
 *   - S < L                       otherwise (R, S + L) is a second valid signature (RFC 8032 §5.1.7)
 *   - R and A canonical (y < p)   RFC 8032 §5.1.3
 *   - R and A not of small order  a small-order key verifies signatures nobody made
 * The equation itself is Tink's cofactorless one ([S]B == R + [k]A compared as encodings, as
 * libsodium); BouncyCastle's verifier accepts mixed-order keys' cofactored-only signatures
 * (speccheck cases 4 and 5), and its public API has no point arithmetic to add the comparison.
 * BouncyCastle decodes keys (a point on the curve). Inputs are public: nothing needs constant time.
 */
object Ed25519Strict {
    const val PUBLIC_KEY_LENGTH = 32
    const val SIGNATURE_LENGTH = 64

    // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
    private val L = Codec.unhex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")

    // y of the 8 small-order points (libsodium's blocklist), compared with x's sign bit masked; the
    // last two are the non-canonical encodings p and p + 1 of y = 0 and y = 1.
    private val SMALL_ORDER_Y = listOf(
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ).map(Codec::unhex)

    /** Why a raw public key is unsafe (SPEC §2.3), or null when it may be trusted. */
    fun checkPublicKey(pk: ByteArray): String? = when {
        pk.size != PUBLIC_KEY_LENGTH -> "public key must be $PUBLIC_KEY_LENGTH bytes, got ${pk.size}"
        !isCanonicalPoint(pk, 0) -> "public key is not canonically encoded (y >= 2^255-19)"
        hasSmallOrder(pk, 0) -> "public key is a small-order point"
        // Decoding only (mixed-order keys are accepted, as libsodium does: speccheck case 3).
        !Ed25519.validatePublicKeyPartial(pk, 0) -> "public key is not a point on Ed25519"
        else -> null
    }

    /** Strict verification; never throws. */
    fun verify(pk: ByteArray, message: ByteArray, sig: ByteArray): Boolean {
        if (pk.size != PUBLIC_KEY_LENGTH || sig.size != SIGNATURE_LENGTH) return false
        val p = pk.copyOf()
        val s = sig.copyOf() // the bytes checked are the bytes verified
        if (!isCanonicalScalar(s) || !isCanonicalPoint(s, 0) || hasSmallOrder(s, 0)) return false
        if (checkPublicKey(p) != null) return false
        return try {
            Ed25519Verify(p).verify(s, message)
            true
        } catch (e: GeneralSecurityException) {
            false
        } catch (e: RuntimeException) {
            false
        }
    }

    fun keyIdOf(pk: ByteArray): String = Codec.hex(Codec.sha256(pk))

    /** S (bytes 32..63, little-endian) < L. */
    private fun isCanonicalScalar(sig: ByteArray): Boolean {
        for (i in 31 downTo 0) {
            val a = sig[32 + i].toInt() and 0xff
            val b = L[i].toInt() and 0xff
            if (a < b) return true
            if (a > b) return false
        }
        return false // S == L
    }

    /** y (sign bit masked) < p, the test of libsodium's ge25519_is_canonical. */
    private fun isCanonicalPoint(e: ByteArray, off: Int): Boolean {
        if ((e[off + 31].toInt() and 0x7f) != 0x7f) return true
        for (i in 30 downTo 1) if ((e[off + i].toInt() and 0xff) != 0xff) return true
        return (e[off].toInt() and 0xff) < 0xed
    }

    private fun hasSmallOrder(e: ByteArray, off: Int): Boolean = SMALL_ORDER_Y.any { y ->
        (0 until 31).all { e[off + it] == y[it] } && (e[off + 31].toInt() and 0x7f) == (y[31].toInt() and 0xff)
    }
}
