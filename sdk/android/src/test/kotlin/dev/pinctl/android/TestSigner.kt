package dev.pinctl.android

import org.bouncycastle.math.ec.rfc8032.Ed25519
import java.security.SecureRandom

/** An Ed25519 key for tests that need bundles pinctl's CLI would not make (attacks, expired). */
class TestSigner {
    private val sk = ByteArray(32).also { SecureRandom().nextBytes(it) }
    val publicKey: ByteArray = ByteArray(32).also { Ed25519.generatePublicKey(sk, 0, it, 0) }
    val publicKeyBase64: String get() = Codec.base64(publicKey)
    val keyid: String get() = Ed25519Strict.keyIdOf(publicKey)

    fun sign(message: ByteArray): ByteArray = ByteArray(64).also { Ed25519.sign(sk, 0, message, 0, message.size, it, 0) }

    /** A DSSE envelope of `payload` (JSON text) signed by this key. */
    fun envelope(payload: String, type: BundleType = BundleType.PINS): ByteArray {
        val body = payload.toByteArray()
        val sig = sign(Envelope.pae(type.payloadType, body))
        return envelopeJson(type.payloadType, body, keyid, sig)
    }

    companion object {
        fun envelopeJson(payloadType: String, body: ByteArray, keyid: String, sig: ByteArray): ByteArray =
            ("{\"payloadType\":\"$payloadType\",\"payload\":\"${Codec.base64(body)}\"," +
                "\"signatures\":[{\"keyid\":\"$keyid\",\"sig\":\"${Codec.base64(sig)}\"}]}").toByteArray()

        /** A pins payload for `domain` with the given pins, valid from `issued` to `expires` (ms). */
        fun pinsPayload(version: Long, domain: String, pins: List<String>, issued: Long, expires: Long, audience: String = "com.example.app") =
            "{\"type\":\"pins\",\"audience\":\"$audience\",\"version\":$version,\"issuedAt\":\"${iso(issued)}\"," +
                "\"expiresAt\":\"${iso(expires)}\",\"domains\":[{\"domain\":\"$domain\",\"includeSubdomains\":false," +
                "\"pins\":[${pins.joinToString(",") { "\"$it\"" }}]}]}"

        fun iso(ms: Long) = Codec.formatTime(ms / 1000 * 1000).replace(".000Z", "Z")
    }
}
