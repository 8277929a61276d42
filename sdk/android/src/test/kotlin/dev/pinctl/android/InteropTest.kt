package dev.pinctl.android

import okhttp3.OkHttpClient
import okhttp3.Request
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.fail
import java.io.File
import java.io.IOException

/**
 * The Kotlin SDK against the real service: keys from `pinctl keys generate`, bundles signed by a
 * real `pinctl serve` (its pre-publish guard probes the TLS app server), pulled and enforced.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class InteropTest {
    private val dir = Fixtures.tempDir("pinctl-kt-interop-")
    private val root = TestPki.root("Interop Root")
    private val intermediate = TestPki.intermediate(root, "Interop Intermediate")
    private val leafA = TestPki.leaf(intermediate)
    private val leafB = TestPki.leaf(intermediate)
    private val backup = TestPki.leaf(intermediate)
    private lateinit var serve: PinctlServe
    private lateinit var app: TlsApp

    @BeforeAll
    fun start() {
        PinctlCli.run("keys", "generate", "--out", File(dir, "keys").path)
        serve = PinctlServe(dir, File(dir, "keys/pinctl-signing.key"))
        app = TlsApp(leafA, intermediate)
    }

    @AfterAll
    fun stop() {
        if (::serve.isInitialized) serve.close()
        if (::app.isInitialized) app.close()
        dir.deleteRecursively()
    }

    /** A pinctl.pins.v1 document (what `pinctl generate --format json` writes), endpoint = the app server. */
    private fun pinsDoc(vararg pins: String) = """{"format":"pinctl.pins.v1","expiration":"2027-06-01","domains":[{
        "domain":"${TestPki.HOST}","includeSubdomains":false,
        "pins":[${pins.joinToString(",") { """{"spkiSha256":"$it","role":"leaf","subject":null,"notAfter":null,"source":"test"}""" }}],
        "endpoints":[{"host":"${TestPki.HOST}","port":${app.port},"addresses":["127.0.0.1"]}]}]}"""

    private fun client(storage: File = File(dir, "sdk")) = PinctlClient(Config(
        url = serve.url,
        publicKeys = listOf(File(dir, "keys/pinctl-signing.pub.pem").readText()),
        audience = "com.example.app",
        storageDir = storage,
        platformTrustManager = TestPki.trust(root),
    ))

    private fun get(http: OkHttpClient): String = http.newCall(Request.Builder().url(app.url).build()).execute().use { it.body.string() }

    @Test
    fun `pull and apply a served bundle, refuse a key change, accept it once a new bundle is published`() {
        val first = serve.publish("/v1/bundles/pins", pinsDoc(TestPki.pin(leafA), TestPki.pin(backup)))
        assertEquals(200, first.first, first.second)
        val client = client()
        val r = client.refresh()
        assertEquals(RefreshResult("applied", "none", 1, 0), r)
        assertEquals(listOf(TestPki.pin(leafA), TestPki.pin(backup)), client.pinsFor(TestPki.HOST))
        assertEquals(listOf(TestPki.pin(leafA), TestPki.pin(backup)), client.pinsFor(TestPki.HOST.uppercase() + "."))
        assertTrue(File(dir, "sdk/pins.json").isFile, "the last good bundle is saved as pins.json")
        val http = client.applyTo(TestPki.okhttp()).build()
        assertEquals("ok", get(http))

        // The server moves to a key the bundle does not pin: refused with a pinning failure.
        app.restart(leafB, intermediate)
        val e = assertThrows<IOException> { get(http) }
        val pinning = pinningErrorOf(e) ?: fail("expected a PinningError behind $e")
        assertEquals("pin-mismatch", pinning.reason)
        assertEquals("PIN_MISMATCH", pinning.code)
        assertEquals(TestPki.pin(leafB), pinning.chainPins.first())

        // A new bundle with the new key: version 2, applied, the request passes again.
        val second = serve.publish("/v1/bundles/pins", pinsDoc(TestPki.pin(leafB), TestPki.pin(backup)))
        assertEquals(200, second.first, second.second)
        assertEquals("applied", client.refresh().pins)
        assertEquals(2, client.version)
        assertEquals("ok", get(http))
        // A restart on the same directory has version 2 in force before any download.
        assertEquals(2, client().version)
        // Nothing new: unchanged (conditional GET).
        assertEquals("unchanged", client.refresh().pins)

        // The probe entry point agrees: one JSON line, ok, version 2, the pins.
        val out = mutableListOf<String>()
        val code = probe(listOf(serve.url, File(dir, "keys/pinctl-signing.pub.pem").path, File(dir, "probe").path, TestPki.HOST), emptyMap()) { out += it }
        assertEquals(0, code, out.joinToString())
        val line = StrictJson.parse(out.single().toByteArray()).obj()
        assertEquals(true, line["ok"])
        assertEquals(null, line["error"])
        assertEquals(2L, line["version"].int())
        assertEquals(listOf(TestPki.pin(leafB), TestPki.pin(backup)), line["pins"])

        // With a fifth argument: one request through the enforcing client, {status}, then {error} after a key change.
        val ca = File(dir, "root.pem").apply { writeText(root.certificatePem()) }
        val env = mapOf("PINCTL_PROBE_CA" to ca.path, "PINCTL_PROBE_RESOLVE" to "${TestPki.HOST}:127.0.0.1")
        // app.url is read after each restart: the server may come back on another port (the old one lingering).
        val args = { listOf(serve.url, File(dir, "keys/pinctl-signing.pub.pem").path, File(dir, "probe").path, TestPki.HOST, app.url) }
        out.clear()
        assertEquals(0, probe(args(), env) { out += it }, out.joinToString())
        assertEquals(200L, StrictJson.parse(out.single().toByteArray()).obj()["status"].int())
        app.restart(leafA, intermediate)
        out.clear()
        assertEquals(1, probe(args(), env) { out += it }, out.joinToString())
        val failed = StrictJson.parse(out.single().toByteArray()).obj()
        assertEquals(listOf(false, "PinningError", "PIN_MISMATCH", 2L), listOf(failed["ok"], failed["error"], failed["code"], failed["version"].int()))
    }
}
