package dev.pinctl.android

import okhttp3.Request
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.fail
import java.io.File
import java.io.IOException
import java.net.URL
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit
import javax.net.ssl.HttpsURLConnection

/** Enforcement details: report-only and reports, the HttpURLConnection pair, pool reuse, stale policy. */
class EnforcementTest {
    private val dir = Fixtures.tempDir("pinctl-kt-enforce-")
    private val host = BundleHost()
    private val key = TestSigner()
    private val root = TestPki.root("Enforce Root")
    private val leaf = TestPki.leaf(root)
    private val other = TestPki.leaf(root)
    private val backupPin = Codec.base64(Codec.sha256("backup".toByteArray()))
    private val day = 86_400_000L
    private var now = System.currentTimeMillis()

    @AfterEach
    fun stop() {
        host.close()
        dir.deleteRecursively()
    }

    private fun config(vararg pins: String, reportOnly: Boolean = false, reports: MutableList<PinReport>? = null) = Config(
        url = host.url, publicKeys = listOf(key.publicKeyBase64), audience = "com.example.app",
        storageDir = File(dir, "sdk"), platformTrustManager = TestPki.trust(root), reportOnly = reportOnly,
        reportUri = "${host.url}/v1/reports", onReport = reports?.let { r -> { rep: PinReport -> r += rep } }, clock = { now },
    ).also { host.pins(key.envelope(TestSigner.pinsPayload(3, TestPki.HOST, pins.toList(), now - day, now + 7 * day))) }

    @Test
    fun `the pin of a certificate is openssl's`() {
        val pem = File(dir, "leaf.pem").apply { writeText(leaf.certificatePem()) }
        val p = ProcessBuilder("bash", "-c", "openssl x509 -in '$pem' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64").start()
        val openssl = p.inputStream.bufferedReader().readText().trim()
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0)
        assertEquals(openssl, TestPki.pin(leaf))
    }

    @Test
    fun `report-only lets the connection through and posts one report, the Node SDK's JSON`() {
        val seen = CopyOnWriteArrayList<PinReport>()
        val client = PinctlClient(config(TestPki.pin(other), backupPin, reportOnly = true, reports = seen))
        host.routes["/v1/reports"] = { mockwebserver3.MockResponse.Builder().code(204).build() }
        client.refresh()
        val http = client.applyTo(TestPki.okhttp()).build()
        TlsApp(leaf).use { app ->
            repeat(3) {
                http.newCall(Request.Builder().url(app.url).build()).execute().use { r -> assertEquals(200, r.code) }
                http.connectionPool.evictAll()
            }
            val r = seen.single() // one per kind of failure a minute
            assertEquals(PinReport(
                "pin-mismatch", "com.example.app", Codec.formatTime(now), TestPki.HOST, app.port,
                listOf(TestPki.pin(leaf), TestPki.pin(root)), listOf(TestPki.pin(other), backupPin), r.bundle,
            ), r)
            assertEquals(ReportBundle("pins", 3, TestSigner.iso(now + 7 * day)), r.bundle)
        }
        val posted = waitFor { host.requests.firstOrNull { it.url.encodedPath == "/v1/reports" } }
        val json = StrictJson.parse(posted.body!!.toByteArray()).obj()
        assertEquals(setOf("type", "audience", "time", "domain", "port", "chainPins", "expectedPins", "bundle"), json.keys)
        assertEquals("pin-mismatch", json["type"])
        assertEquals(listOf(TestPki.pin(leaf), TestPki.pin(root)), json["chainPins"])
        assertEquals(mapOf("type" to "pins", "version" to java.math.BigDecimal(3), "expiresAt" to TestSigner.iso(now + 7 * day)), json["bundle"])
    }

    @Test
    fun `HttpURLConnection pair enforces the baseline pins`() {
        val ipLeaf = TestPki.leaf(root, "127.0.0.1")
        val ipOther = TestPki.leaf(root, "127.0.0.1")
        val client = PinctlClient(Config(
            url = host.url, publicKeys = listOf(key.publicKeyBase64), audience = "com.example.app", storageDir = File(dir, "sdk"),
            platformTrustManager = TestPki.trust(root),
            baseline = mapOf("127.0.0.1" to BaselineDomain(listOf("sha256/" + TestPki.pin(ipLeaf), backupPin), expirationDate = "2099-01-01")),
        ))
        assertEquals(listOf(TestPki.pin(ipLeaf), backupPin), client.pinsFor("127.0.0.1"))
        val tm = client.trustManager()
        fun open(port: Int) = (URL("https://127.0.0.1:$port/").openConnection() as HttpsURLConnection).apply {
            sslSocketFactory = client.sslSocketFactory(tm)
            hostnameVerifier = client.hostnameVerifier(tm)
        }
        TlsApp(ipLeaf).use { app -> assertEquals(200, open(app.port).responseCode) }
        TlsApp(ipOther).use { app ->
            val e = assertThrows<IOException> { open(app.port).responseCode }
            assertEquals("pin-mismatch", (pinningErrorOf(e) ?: fail("expected a PinningError behind $e")).reason)
        }
    }

    @Test
    fun `a pooled connection made under pins a new bundle removed is not reused`() {
        val client = PinctlClient(config(TestPki.pin(leaf), backupPin))
        client.refresh()
        val http = client.applyTo(TestPki.okhttp()).build()
        TlsApp(leaf).use { app ->
            http.newCall(Request.Builder().url(app.url).build()).execute().use { assertEquals(200, it.code) }
            assertEquals(1, http.connectionPool.connectionCount())
            host.pins(key.envelope(TestSigner.pinsPayload(4, TestPki.HOST, listOf(TestPki.pin(other), backupPin), now - day, now + 7 * day)))
            assertEquals("applied", client.refresh().pins)
            assertEquals(0, http.connectionPool.connectionCount(), "idle connections are evicted on a change")
            val e = assertThrows<IOException> { http.newCall(Request.Builder().url(app.url).build()).execute().close() }
            assertEquals("pin-mismatch", pinningErrorOf(e)?.reason)
        }
    }

    @Test
    fun `stale policy - grace keeps the last good pins, then they lapse and a stale-bundle report is made`() {
        val seen = CopyOnWriteArrayList<PinReport>()
        val client = PinctlClient(config(TestPki.pin(leaf), backupPin, reports = seen))
        client.refresh()
        now += 8 * day // expired a day ago: within the 30-day grace
        assertEquals("grace", client.status().pins?.phase)
        assertEquals(listOf(TestPki.pin(leaf), backupPin), client.pinsFor(TestPki.HOST))
        assertThrows<ExpiredError> { client.refresh() } // a freeze on the same bytes is reported
        now += 30 * day
        assertEquals("lapsed", client.status().pins?.phase)
        assertEquals(emptyList<String>(), client.pinsFor(TestPki.HOST))
        assertEquals(listOf("stale-bundle"), seen.map { it.type })
        val failOpen = PinctlClient(client.config.copy(stalePolicy = StalePolicy.FAIL_OPEN, storageDir = File(dir, "sdk")))
        now -= 30 * day
        assertEquals("lapsed", failOpen.status().pins?.phase)
    }

    @Test
    fun `periodic refresh applies a bundle without the app calling refresh`() {
        val client = PinctlClient(config(TestPki.pin(leaf), backupPin))
        client.startPeriodicRefresh(1_000).use { waitFor { client.version.takeIf { it == 3L } } }
    }

    @Test
    fun `conditional GET - the ETag is sent, 304 is unchanged, and a 304 forever is reported once expired`() {
        val client = PinctlClient(config(TestPki.pin(leaf), backupPin))
        val bundle = key.envelope(TestSigner.pinsPayload(3, TestPki.HOST, listOf(TestPki.pin(leaf), backupPin), now - day, now + 7 * day))
        host.routes["/v1/bundles/pins"] = {
            val sent = host.requests.last().headers["If-None-Match"]
            if (sent == "\"v3\"") mockwebserver3.MockResponse.Builder().code(304).build()
            else mockwebserver3.MockResponse.Builder().code(200).addHeader("ETag", "\"v3\"").body(okio.Buffer().write(bundle)).build()
        }
        assertEquals("applied", client.refresh().pins)
        assertEquals("unchanged", client.refresh().pins)
        assertEquals("\"v3\"", host.requests.last { it.url.encodedPath == "/v1/bundles/pins" }.headers["If-None-Match"])
        now += 8 * day
        assertThrows<ExpiredError> { client.refresh() }
        assertEquals(3, client.version) // still applied; the stale policy decides what it means
    }

    @Test
    fun `a pinning failure triggers one refresh, which brings the new pins`() {
        val client = PinctlClient(config(TestPki.pin(leaf), backupPin))
        val http = client.applyTo(TestPki.okhttp()).build()
        client.startPeriodicRefresh(3_600_000).use {
            waitFor { client.version.takeIf { it == 3L } } // the scheduled first refresh ran; the next is in an hour
            host.pins(key.envelope(TestSigner.pinsPayload(4, TestPki.HOST, listOf(TestPki.pin(other), backupPin), now - day, now + 7 * day)))
            TlsApp(other).use { app ->
                assertThrows<IOException> { http.newCall(Request.Builder().url(app.url).build()).execute().close() }
                waitFor { client.version.takeIf { it == 4L } }
                http.newCall(Request.Builder().url(app.url).build()).execute().use { assertEquals(200, it.code) }
            }
        }
    }

    private fun <T : Any> waitFor(get: () -> T?): T {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20)
        while (System.nanoTime() < deadline) {
            get()?.let { return it }
            Thread.sleep(50)
        }
        fail("timed out")
    }
}
