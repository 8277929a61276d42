package dev.pinctl.android

/** A trusted keyset (SPEC §2, §5): key id to 32 raw bytes; expiresAt null for keys embedded in the app. */
class TrustedKeyset(val version: Long, val threshold: Int, val keys: Map<String, ByteArray>, val expiresAt: Long? = null)

object Keys {
    /** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410). */
    private val SPKI_PREFIX = Codec.unhex("302a300506032b6570032100")
    private val PEM = Regex("-----BEGIN PUBLIC KEY-----([\\s\\S]*?)-----END PUBLIC KEY-----")

    /** A public key from PEM `PUBLIC KEY`, base64 SPKI DER, or base64 of the 32 raw bytes (SPEC §2.1). */
    fun parsePublicKey(input: String): ByteArray {
        val pem = PEM.find(input)
        val text = (pem?.groupValues?.get(1) ?: input).filterNot { it.isWhitespace() }
        val der = Codec.base64OrNull(text)
            ?: throw ConfigError("expected an Ed25519 public key (PEM PUBLIC KEY or base64 of 32 bytes), found text that is not base64")
        val raw = when {
            der.size == 44 && der.copyOfRange(0, 12).contentEquals(SPKI_PREFIX) -> der.copyOfRange(12, 44)
            der.size == 32 && pem == null -> der
            else -> throw ConfigError(
                "expected an Ed25519 public key (PEM PUBLIC KEY or base64 of 32 bytes), found " +
                    if (pem != null) "a PEM key of another type" else "${der.size} bytes",
            )
        }
        Ed25519Strict.checkPublicKey(raw)?.let { throw KeysetError("refusing public key ${Ed25519Strict.keyIdOf(raw)}: $it") }
        return raw
    }

    /** The keys an app embeds: version 0, threshold 1 (SPEC §4). */
    fun embedded(publicKeys: List<String>, threshold: Int = 1): TrustedKeyset {
        val keys = parseAll(publicKeys)
        if (keys.isEmpty()) throw KeysetError("expected at least one trusted public key")
        return TrustedKeyset(0, minOf(threshold, keys.size), keys)
    }

    /**
     * SPEC §7.1: the root role an app embeds, version 0; 1 ≤ threshold ≤ distinct keys (never
     * lowered silently: an app asking for 2 of 2 must not get 1 of 1).
     */
    fun rootRole(rootKeys: List<String>, threshold: Int, expiresAt: Long): TrustedKeyset {
        val keys = parseAll(rootKeys)
        if (keys.isEmpty()) throw ConfigError("rootKeys: expected at least one root public key")
        if (threshold < 1 || threshold > keys.size) {
            throw ConfigError(
                "threshold: expected an integer from 1 to ${keys.size} (the distinct root keys), found $threshold",
            )
        }
        return TrustedKeyset(0, threshold, keys, expiresAt)
    }

    private fun parseAll(publicKeys: List<String>): LinkedHashMap<String, ByteArray> {
        val keys = LinkedHashMap<String, ByteArray>()
        for (k in publicKeys) parsePublicKey(k).let { keys[Ed25519Strict.keyIdOf(it)] = it }
        return keys
    }

    /**
     * SPEC §4.4: the distinct trusted keys with a valid strict signature over PAE. The keyid is only
     * a hint for which key to try first (§1.3): a wrong or empty keyid never hides a valid signature.
     */
    fun signingKeys(env: Envelope, keyset: TrustedKeyset): Set<String> {
        val message = Envelope.pae(env.payloadType, env.payload)
        val signed = HashSet<String>()
        for (sig in env.signatures) {
            val hinted = keyset.keys[sig.keyid]
            val order = if (hinted != null) listOf(sig.keyid to hinted) + keyset.keys.filterKeys { it != sig.keyid }.toList()
            else keyset.keys.toList()
            for ((id, key) in order) {
                if (id in signed) continue
                if (Ed25519Strict.verify(key, message, sig.sig)) {
                    signed.add(id)
                    break
                }
            }
        }
        return signed
    }
}
