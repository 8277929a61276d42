package dev.pinctl.android

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** The strict decoder and SPEC §7.3.4 / §7.4: a `root` member on keysets only; 366 days at most. */
class RolesPayloadTest {
    private val signer = TestSigner()
    private val key = "{\"keyid\":\"${signer.keyid}\",\"publicKey\":\"${signer.publicKeyBase64}\"}"
    private val pin1 = Codec.base64(Codec.sha256("a".toByteArray()))
    private val pin2 = Codec.base64(Codec.sha256("b".toByteArray()))

    private fun root(threshold: Int, extra: String = "") =
        ",\"root\":{\"keys\":[$key],\"threshold\":$threshold,\"expiresAt\":\"2027-06-01T00:00:00Z\"$extra}"

    private fun keyset(extra: String, expires: String = "2027-01-01T00:00:00Z") =
        ("{\"type\":\"keyset\",\"audience\":\"app\",\"version\":1,\"issuedAt\":\"2026-01-01T00:00:00Z\"," +
            "\"expiresAt\":\"$expires\",\"threshold\":1,\"keys\":[$key]$extra}").toByteArray()

    @Test
    fun `a keyset may carry a root member, decoded with its keys, threshold and expiry`() {
        val p = Payloads.decode(keyset(root(1)), BundleType.KEYSET)
        assertEquals(listOf(signer.keyid), p.root!!.keys.map { it.keyid })
        assertEquals(Codec.parseTime("2027-06-01T00:00:00Z"), p.root!!.expiresAt)
        assertEquals(null, Payloads.decode(keyset(""), BundleType.KEYSET).root)
    }

    @Test
    fun `a root member with an unknown member or a threshold above its keys is a PayloadError`() {
        val extra = assertThrows<PayloadError> {
            Payloads.decode(keyset(root(1, ",\"x\":1")), BundleType.KEYSET)
        }
        assertTrue(extra.message!!.contains(".root.x"), extra.message)
        assertThrows<PayloadError> {
            Payloads.decode(keyset(root(2)), BundleType.KEYSET)
        }
    }

    @Test
    fun `pins never carry a root member`() {
        val body = "{\"type\":\"pins\",\"audience\":\"app\",\"version\":1,\"issuedAt\":\"2026-01-01T00:00:00Z\"," +
            "\"expiresAt\":\"2026-02-01T00:00:00Z\",\"domains\":[{\"domain\":\"a.test\",\"includeSubdomains\":false," +
            "\"pins\":[\"$pin1\",\"$pin2\"]}],\"root\":{}}"
        val e = assertThrows<PayloadError> { Payloads.decode(body.toByteArray(), BundleType.PINS) }
        assertTrue(e.message!!.contains(".root"), e.message)
    }

    @Test
    fun `366 days is the longest keyset lifetime, one more is a KeysetError`() {
        Payloads.decode(keyset("", "2027-01-02T00:00:00Z"), BundleType.KEYSET) // 2026-01-01 + 366 days
        assertThrows<KeysetError> { Payloads.decode(keyset("", "2027-01-02T00:00:01Z"), BundleType.KEYSET) }
    }
}
