package dev.pinctl.android

import okhttp3.Request
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.fail
import java.io.File
import java.io.IOException

/**
 * Trust-root bundles made by `pinctl bundle create --trust-roots` (and a pins bundle by
 * `pinctl bundle create --pins`), hosted statically: a chain from a root the platform trusts but
 * the bundle does not list is refused; a chain from a listed root passes.
 */
class TrustRootsTest {
    private val dir = Fixtures.tempDir("pinctl-kt-roots-")
    private val host = BundleHost()
    private val listed = TestPki.root("Listed Root")
    private val unlisted = TestPki.root("Unlisted Root")

    @AfterEach
    fun stop() {
        host.close()
        dir.deleteRecursively()
    }

    @Test
    fun `a platform-trusted root that the bundle does not list is refused`() {
        PinctlCli.run("keys", "generate", "--out", File(dir, "keys").path)
        val key = File(dir, "keys/pinctl-signing.key").path
        val pinned = TestPki.leaf(listed, "pinned.pinctl.test")
        val pinsDoc = File(dir, "pins.json").apply {
            writeText("""{"format":"pinctl.pins.v1","expiration":"2027-06-01","domains":[{"domain":"pinned.pinctl.test",
                "includeSubdomains":false,"pins":[{"spkiSha256":"${TestPki.pin(pinned)}","role":"leaf","subject":null,"notAfter":null,"source":"test"},
                {"spkiSha256":"${TestPki.pin(listed)}","role":"root","subject":null,"notAfter":null,"source":"test"}],"endpoints":[]}]}""")
        }
        val roots = File(dir, "roots.pem").apply { writeText(listed.certificatePem()) }
        fun create(vararg args: String) = PinctlCli.run("bundle", "create", *args, "--key", key, "--version", "1", "--audience", "com.example.app").toByteArray()
        host.pins(create("--pins", pinsDoc.path))
        host.serve("/v1/bundles/trust-roots", create("--trust-roots", roots.path))

        val client = PinctlClient(Config(
            url = host.url, publicKeys = listOf(Fixtures.json(File(dir, "keys/pinctl-signing.pub"))["publicKey"] as String),
            audience = "com.example.app", storageDir = File(dir, "sdk"), platformTrustManager = TestPki.trust(listed, unlisted),
        ))
        assertEquals(RefreshResult("applied", "applied", 1, 0), client.refresh())
        assertEquals(1L, client.status().trustRoots?.version)
        val http = client.applyTo(TestPki.okhttp()).build()

        val listedCa = TestPki.intermediate(listed, "Listed CA")
        TlsApp(TestPki.leaf(listedCa), listedCa).use { app ->
            http.newCall(Request.Builder().url(app.url).build()).execute().use { assertEquals(200, it.code) }
        }
        val unlistedCa = TestPki.intermediate(unlisted, "Unlisted CA")
        TlsApp(TestPki.leaf(unlistedCa), unlistedCa).use { app ->
            val e = assertThrows<IOException> { http.newCall(Request.Builder().url(app.url).build()).execute().close() }
            val p = pinningErrorOf(e) ?: fail("expected a PinningError behind $e")
            assertEquals("untrusted-root", p.reason)
            assertEquals(listOf(TestPki.pin(listed)), p.expectedPins)
            assertEquals(TestPki.pin(unlisted), p.chainPins.last(), "the verified chain ends at the platform root")
        }
        // Restart: the trust roots are restored from trust-roots.json and still enforced.
        val again = PinctlClient(client.config)
        assertEquals(listOf("fresh", "fresh"), listOf(again.status().pins?.phase, again.status().trustRoots?.phase))
    }
}
