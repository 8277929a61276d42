package dev.pinctl.android

import mockwebserver3.MockResponse
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.io.File
import java.net.InetAddress
import java.net.ServerSocket
import kotlin.concurrent.thread

/**
 * Attacks on the download path. Each one is refused with its SPEC error class, and the last good
 * bundle (version 5) stays in force, in this client and in a new client on the same directory.
 */
class AttackTest {
    private val dir = Fixtures.tempDir("pinctl-kt-attack-")
    private val host = BundleHost()
    private val key = TestSigner()
    private val now = System.currentTimeMillis()
    private val day = 86_400_000L
    private val pinA = Codec.base64(Codec.sha256("a".toByteArray()))
    private val pinB = Codec.base64(Codec.sha256("b".toByteArray()))
    private val pinC = Codec.base64(Codec.sha256("c".toByteArray()))
    private val domain = "api.example.com"

    @AfterEach
    fun stop() {
        host.close()
        dir.deleteRecursively()
    }

    private fun config(url: String = host.url) = Config(
        url = url, publicKeys = listOf(key.publicKeyBase64), audience = "com.example.app",
        storageDir = File(dir, "sdk"), maxBytes = 64 * 1024, timeoutMs = 3_000,
    )

    private fun payload(version: Long, pins: List<String> = listOf(pinC, pinB), audience: String = "com.example.app", expires: Long = now + 7 * day) =
        TestSigner.pinsPayload(version, domain, pins, now - day, expires, audience)

    /** A client with version 5 (pins A, B) applied and saved. */
    private fun goodClient(): PinctlClient {
        host.pins(key.envelope(payload(5, listOf(pinA, pinB))))
        return PinctlClient(config()).also { assertEquals("applied", it.refresh().pins) }
    }

    private fun assertLastGoodInForce(client: PinctlClient) {
        for (c in listOf(client, PinctlClient(config()))) {
            assertEquals(5, c.version)
            assertEquals(listOf(pinA, pinB), c.pinsFor(domain))
        }
    }

    private inline fun <reified T : PinctlException> refused(bytes: ByteArray, code: String) {
        val client = goodClient()
        host.pins(bytes)
        val e = assertThrows<T> { client.refresh() }
        assertEquals(code, e.code)
        assertLastGoodInForce(client)
    }

    @Test fun rollback() = refused<RollbackError>(key.envelope(payload(4)), "BUNDLE_ROLLBACK")

    @Test fun `same version, other content`() = refused<RollbackError>(key.envelope(payload(5)), "BUNDLE_ROLLBACK")

    @Test
    fun `tampered payload`() {
        val good = String(key.envelope(payload(6)))
        val b64 = Regex("\"payload\":\"([^\"]+)\"").find(good)!!.groupValues[1]
        val tampered = String(Codec.base64OrNull(b64)!!).replace(pinC, pinA)
        refused<SignatureError>(good.replace(b64, Codec.base64(tampered.toByteArray())).toByteArray(), "BUNDLE_SIGNATURE")
    }

    @Test fun `foreign key`() = refused<SignatureError>(TestSigner().envelope(payload(6)), "BUNDLE_SIGNATURE")

    @Test
    fun `S+L malleated signature`() {
        val body = payload(6).toByteArray()
        val sig = key.sign(Envelope.pae(BundleType.PINS.payloadType, body))
        // S + L, little-endian: the same point equation holds, a lax verifier accepts it.
        val l = Codec.unhex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
        var carry = 0
        for (i in 0 until 32) {
            val sum = (sig[32 + i].toInt() and 0xff) + (l[i].toInt() and 0xff) + carry
            sig[32 + i] = sum.toByte()
            carry = sum shr 8
        }
        assertEquals(0, carry)
        refused<SignatureError>(TestSigner.envelopeJson(BundleType.PINS.payloadType, body, key.keyid, sig), "BUNDLE_SIGNATURE")
    }

    @Test fun `wrong audience`() = refused<AudienceError>(key.envelope(payload(6, audience = "com.other.app")), "BUNDLE_AUDIENCE")

    @Test
    fun `wrong type - a trust-roots bundle at the pins URL`() =
        refused<PayloadTypeError>(key.envelope(payload(6), BundleType.TRUST_ROOTS), "BUNDLE_PAYLOAD_TYPE")

    @Test fun expired() = refused<ExpiredError>(key.envelope(payload(6, expires = now - 2 * day + 1000)), "BUNDLE_EXPIRED")

    @Test fun garbage() = refused<EnvelopeError>("<html>503 Service Unavailable</html>".toByteArray(), "BUNDLE_ENVELOPE")

    @Test fun `oversized response`() = refused<TooLargeError>(ByteArray(64 * 1024 + 1) { ' '.code.toByte() }, "BUNDLE_TOO_LARGE")

    @Test
    fun `endless response - aborted at the size cap`() {
        val client = goodClient()
        rawServer { out ->
            out.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n".toByteArray())
            val chunk = ByteArray(8192) { ' '.code.toByte() }
            while (true) out.write(chunk) // until the client hangs up
        }.use { raw ->
            val c = PinctlClient(config("http://127.0.0.1:${raw.localPort}"))
            assertEquals(5, c.version)
            assertThrows<TooLargeError> { c.refresh() }
        }
        assertLastGoodInForce(client)
    }

    @Test
    fun `stalled response - aborted at the deadline`() {
        val client = goodClient()
        rawServer { out ->
            out.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{".toByteArray())
            out.flush()
            Thread.sleep(20_000)
        }.use { raw ->
            val e = assertThrows<FetchError> { PinctlClient(config("http://127.0.0.1:${raw.localPort}")).refresh() }
            assertEquals("BUNDLE_FETCH", e.code)
        }
        assertLastGoodInForce(client)
    }

    @Test
    fun `redirect is not followed`() {
        val client = goodClient()
        host.serve("/elsewhere", key.envelope(payload(6)))
        host.routes["/v1/bundles/pins"] = { MockResponse.Builder().code(302).addHeader("Location", "${host.url}/elsewhere").build() }
        val e = assertThrows<FetchError> { client.refresh() }
        assertTrue(e.message!!.contains("HTTP 302"), e.message)
        assertTrue(host.requests.none { it.url.encodedPath == "/elsewhere" }, "the redirect was followed")
        assertLastGoodInForce(client)
    }

    @Test
    fun `crash mid-write - a leftover temporary file is ignored and removed`() {
        goodClient()
        val sdk = File(dir, "sdk")
        // What a crash between write and rename leaves: a half-written newer bundle in a temp file.
        val half = key.envelope(payload(6)).let { it.copyOf(it.size / 2) }
        val temp = File(sdk, ".pins.0123456789ab.tmp").apply { writeBytes(half) }
        val client = PinctlClient(config())
        assertFalse(temp.exists(), "the leftover temp file was not removed")
        assertEquals(emptyList<String>(), client.status().restoreErrors)
        assertLastGoodInForce(client)
        // A torn pins.json itself (a platform without atomic rename) is refused, never half-applied.
        File(sdk, "pins.json").writeBytes(half)
        val torn = PinctlClient(config())
        assertEquals(0, torn.version)
        assertTrue(torn.status().restoreErrors.single().startsWith("pins:"))
    }

    @Test
    fun `a new bundle after the attacks is applied`() {
        val client = goodClient()
        host.pins(key.envelope(payload(6)))
        assertEquals("applied", client.refresh().pins)
        assertEquals(listOf(pinC, pinB), PinctlClient(config()).pinsFor(domain))
    }

    /** A raw HTTP server on 127.0.0.1 that runs `respond` for each connection. */
    private fun rawServer(respond: (java.io.OutputStream) -> Unit): ServerSocket {
        val ss = ServerSocket(0, 10, InetAddress.getByName("127.0.0.1"))
        thread(isDaemon = true) {
            while (!ss.isClosed) {
                val s = try { ss.accept() } catch (e: Exception) { break }
                thread(isDaemon = true) {
                    s.use {
                        try {
                            val input = it.getInputStream().bufferedReader()
                            while (input.readLine()?.isNotEmpty() == true) { /* request headers */ }
                            respond(it.getOutputStream())
                        } catch (e: Exception) {
                            // the client hung up
                        }
                    }
                }
            }
        }
        return ss
    }
}
