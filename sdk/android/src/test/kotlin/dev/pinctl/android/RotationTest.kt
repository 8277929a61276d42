package dev.pinctl.android

import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.io.File

/** SPEC §5 over HTTP: keyset v1 fetched, checked by old and new keys, saved as keyset-1.json, replayed on restart. */
class RotationTest {
    private val dir = Fixtures.tempDir("pinctl-kt-rotate-")
    private val host = BundleHost()
    private val old = TestSigner()
    private val new = TestSigner()
    private val now = System.currentTimeMillis()
    private val day = 86_400_000L
    private val pins = listOf(Codec.base64(Codec.sha256("a".toByteArray())), Codec.base64(Codec.sha256("b".toByteArray())))

    @AfterEach
    fun stop() {
        host.close()
        dir.deleteRecursively()
    }

    private fun keyset(version: Long, signers: List<TestSigner>): ByteArray {
        val body = ("{\"type\":\"keyset\",\"audience\":\"com.example.app\",\"version\":$version,\"issuedAt\":\"${TestSigner.iso(now - day)}\"," +
            "\"expiresAt\":\"${TestSigner.iso(now + 30 * day)}\",\"threshold\":1,\"keys\":[{\"keyid\":\"${new.keyid}\",\"publicKey\":\"${new.publicKeyBase64}\"}]}").toByteArray()
        val pae = Envelope.pae(BundleType.KEYSET.payloadType, body)
        val sigs = signers.joinToString(",") { "{\"keyid\":\"${it.keyid}\",\"sig\":\"${Codec.base64(it.sign(pae))}\"}" }
        return "{\"payloadType\":\"${BundleType.KEYSET.payloadType}\",\"payload\":\"${Codec.base64(body)}\",\"signatures\":[$sigs]}".toByteArray()
    }

    private fun config() = Config(url = host.url, publicKeys = listOf(old.publicKeyBase64), audience = "com.example.app", storageDir = File(dir, "sdk"))

    @Test
    fun `a rotation signed by the old and new keys is followed and survives a restart`() {
        host.serve("/v1/keyset/1", keyset(1, listOf(old, new)))
        host.pins(new.envelope(TestSigner.pinsPayload(2, "api.example.com", pins, now - day, now + 7 * day)))
        val client = PinctlClient(config())
        assertEquals(RefreshResult("applied", "none", 2, 1), client.refresh())
        assertTrue(File(dir, "sdk/keyset-1.json").isFile)
        val again = PinctlClient(config())
        assertEquals(listOf(2L, 1L), listOf(again.version, again.status().keysetVersion))
        assertEquals(emptyList<String>(), again.status().restoreErrors)
    }

    @Test
    fun `a keyset signed by the new key only is refused and nothing is saved`() {
        host.serve("/v1/keyset/1", keyset(1, listOf(new)))
        val e = assertThrows<SignatureError> { PinctlClient(config()).refresh() }
        assertEquals("BUNDLE_SIGNATURE", e.code)
        assertTrue(!File(dir, "sdk/keyset-1.json").exists())
        assertEquals(0L, PinctlClient(config()).status().keysetVersion)
    }
}
