package dev.pinctl.android

import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.io.File

/**
 * SPEC §7.6 over HTTP (issue 9's attack, then recovery with no app change): the app embeds root1
 * only; keyset v1 (root-signed) names key1; the stolen key1 signs pins at 2^53-1; keyset v2 (root
 * only) names key2, and the client ends on key2's bundle. The served bodies are the vector files.
 */
class RolesRecoveryTest {
    private val dir = Fixtures.tempDir("pinctl-kt-roles-")
    private val vectors = File(Fixtures.bundles, "vectors")
    private val host = BundleHost()
    private val now = Codec.parseTime("2026-06-01T00:00:00Z")!!
    private val domain = "api.pinctl.test"
    private val baseline = listOf(Codec.base64(Codec.sha256("a".toByteArray())), Codec.base64(Codec.sha256("b".toByteArray())))
    private val reports = java.util.concurrent.CopyOnWriteArrayList<PinReport>()

    @AfterEach
    fun stop() {
        host.close()
        dir.deleteRecursively()
    }

    private fun vector(name: String) = File(vectors, name).readBytes()

    /** The pins of a vector file as its payload states them (read here, not by the code under test). */
    @Suppress("UNCHECKED_CAST")
    private fun pinsOf(name: String): List<String> {
        val env = StrictJson.parse(vector(name)) as Map<String, Any?>
        val payload = StrictJson.parse(org.bouncycastle.util.encoders.Base64.decode(env["payload"] as String)) as Map<String, Any?>
        return ((payload["domains"] as List<Any?>)[0] as Map<String, Any?>)["pins"] as List<String>
    }

    private fun config(trustExpires: String = "2027-06-01", clock: Long = now) = Config(
        url = host.url,
        rootKeys = listOf(File(vectors, "root1.pub.pem").readText()),
        trustExpires = trustExpires,
        audience = "com.example.app",
        storageDir = File(dir, "sdk"),
        baseline = mapOf(domain to BaselineDomain(baseline)),
        onReport = { reports += it },
        clock = { clock },
    )

    @Test
    fun `a stolen signing key's fast-forward is dropped after a root-signed rotation, without an app change`() {
        host.serve("/v1/keyset/1", vector("roles-keyset-v1.json"))
        host.pins(vector("roles-pins-vmax-stolen-key1.json"))
        val client = PinctlClient(config())
        assertEquals(RefreshResult("applied", "none", 9007199254740991, 1), client.refresh())
        assertEquals(pinsOf("roles-pins-vmax-stolen-key1.json"), client.pinsFor(domain))

        // The operator names key2 with the root keys alone; the service still serves the attacker's bundle.
        host.serve("/v1/keyset/2", vector("roles-keyset-v2-recovery.json"))
        assertThrows<SignatureError> { client.refresh() }
        assertEquals(2L, client.status().keysetVersion)
        assertEquals(null, client.status().pins, "the stolen key's bundle is no longer in force")
        assertFalse(File(dir, "sdk/pins.json").exists(), "its file is deleted")
        assertEquals(baseline, client.pinsFor(domain), "the baseline applies until a new bundle")

        // key2 publishes at version 10, far below the attacker's floor: applied.
        host.pins(vector("pins-v10-by-key2.json"))
        assertEquals(RefreshResult("applied", "none", 10, 2), client.refresh())
        assertEquals(pinsOf("pins-v10-by-key2.json"), client.pinsFor(domain))

        val restarted = PinctlClient(config())
        assertEquals(listOf(10L, 2L), listOf(restarted.version, restarted.status().keysetVersion))
        assertEquals(emptyList<String>(), restarted.status().restoreErrors)
    }

    @Test
    fun `the refresh that rotates fetches the dropped type again at once`() {
        host.serve("/v1/keyset/1", vector("roles-keyset-v1.json"))
        host.pins(vector("roles-pins-vmax-stolen-key1.json"))
        val client = PinctlClient(config())
        client.refresh()
        host.serve("/v1/keyset/2", vector("roles-keyset-v2-recovery.json"))
        host.pins(vector("pins-v10-by-key2.json"))
        assertEquals(RefreshResult("applied", "none", 10, 2), client.refresh())
        assertEquals(2, host.requests.count { it.url.encodedPath == "/v1/bundles/pins" }, "one pins GET per refresh")
        assertEquals(pinsOf("pins-v10-by-key2.json"), client.pinsFor(domain))
    }

    @Test
    fun `a restarted client restores under its newest keyset, so a bundle of a removed key never comes back`() {
        host.serve("/v1/keyset/1", vector("roles-keyset-v1.json"))
        host.pins(vector("roles-pins-vmax-stolen-key1.json"))
        PinctlClient(config()).refresh()
        // A crash left the stolen key's pins.json next to keyset-2.json (written by another run).
        File(dir, "sdk/keyset-2.json").writeBytes(vector("roles-keyset-v2-recovery.json"))
        val restarted = PinctlClient(config())
        assertEquals(listOf(0L, 2L), listOf(restarted.version, restarted.status().keysetVersion))
        assertEquals(baseline, restarted.pinsFor(domain))
        assertTrue(restarted.status().restoreErrors.any { it.startsWith("pins:") }, restarted.status().restoreErrors.toString())
    }

    @Test
    fun `a rotated root role, its signer and its expiry survive a restart`() {
        val april = Codec.parseTime("2026-04-01T00:00:00Z")!!
        host.serve("/v1/keyset/1", vector("roles-keyset-v1.json"))
        host.serve("/v1/keyset/2", vector("roles-keyset-v2-root-rotation.json")) // root1 -> root2, expires 2027-06-01
        host.pins(vector("pins-v5.json"))
        assertEquals(RefreshResult("applied", "none", 5, 2), PinctlClient(config("2026-05-01", april)).refresh())
        // June: the embedded trustExpires has passed, the rotated root's has not; only root2 signs keyset 3.
        host.serve("/v1/keyset/3", vector("roles-keyset-v3-by-root2.json")) // names key2: key1's pins are dropped
        host.pins(vector("pins-v10-by-key2.json"))
        val restarted = PinctlClient(config("2026-05-01"))
        assertEquals(5L, restarted.version)
        assertEquals(RefreshResult("applied", "none", 10, 3), restarted.refresh())
        assertEquals(emptyList<PinReport>(), reports.toList())
    }

    @Test
    fun `expired embedded trust is a TrustExpiredError, reported once`() {
        host.serve("/v1/keyset/1", vector("roles-keyset-v1.json"))
        val client = PinctlClient(config(trustExpires = "2026-05-01"))
        val e = assertThrows<TrustExpiredError> { client.refresh() }
        assertEquals("BUNDLE_TRUST_EXPIRED", e.code)
        assertThrows<TrustExpiredError> { client.refresh() }
        assertEquals(listOf("trust-expired"), reports.map { it.type })
        assertEquals(0L, client.status().keysetVersion)
    }

    @Test
    fun `a 404 for pins whose applied bundle expired is ExpiredError, not unchanged`() {
        host.serve("/v1/keyset/1", vector("roles-keyset-v1.json"))
        host.pins(vector("roles-pins-vmax-stolen-key1.json")) // expires 2026-12-31
        PinctlClient(config()).refresh()
        host.routes.remove("/v1/bundles/pins")
        val later = PinctlClient(config(clock = Codec.parseTime("2027-01-15T00:00:00Z")!!))
        assertEquals(9007199254740991L, later.version)
        val e = assertThrows<ExpiredError> { later.refresh() }
        assertTrue(e.message!!.contains("no longer served"), e.message)
    }

    @Test
    fun `config takes exactly one of publicKeys and rootKeys, a threshold within the keys, trustExpires required`() {
        val root = File(vectors, "root1.pub.pem").readText()
        val base = config()
        assertThrows<ConfigError> { PinctlClient(base.copy(publicKeys = listOf(File(vectors, "key1.pub.pem").readText()))) }
        assertThrows<ConfigError> { PinctlClient(base.copy(rootKeys = emptyList())) }
        assertThrows<ConfigError> { PinctlClient(base.copy(threshold = 2)) }
        assertThrows<ConfigError> { PinctlClient(base.copy(trustExpires = null)) }
        assertThrows<ConfigError> { PinctlClient(base.copy(trustExpires = "next year")) }
        assertEquals(0L, PinctlClient(base.copy(rootKeys = listOf(root), trustExpires = "2027-06-01T00:00:00Z")).version)
    }
}
