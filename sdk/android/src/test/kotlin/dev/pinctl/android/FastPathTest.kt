package dev.pinctl.android

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File

/**
 * The fast paths (Envelope.readPlain, PinsReader) must agree with the general reader (StrictJson
 * tree + checks) on every input: same payload when they accept, and never accept what the general
 * reader refuses. Run on every vector file and on mutations of a valid bundle, each compared with
 * the general reader's verdict (not with a hard-coded one).
 */
class FastPathTest {
    private val now = 1_790_000_000_000L
    private val pinA = Codec.base64(Codec.sha256("a".toByteArray()))
    private val pinB = Codec.base64(Codec.sha256("b".toByteArray()))
    private val slashPin = "ab/" + "A".repeat(40) + "=" // a valid pin with a '/', which JSON may escape

    private fun payload(
        domains: String = domain("api.example.com"),
        version: String = "7",
        audience: String = "com.example.app",
    ) =
        "{\"type\":\"pins\",\"audience\":\"$audience\",\"version\":$version,\"issuedAt\":\"${TestSigner.iso(now)}\"," +
            "\"expiresAt\":\"${TestSigner.iso(now + 86_400_000L)}\",\"domains\":[$domains]}"

    private fun domain(name: String, pins: String = "\"$pinA\",\"$pinB\"", inc: String = "true") =
        "{\"domain\":\"$name\",\"includeSubdomains\":$inc,\"pins\":[$pins]}"

    private fun manyPins(n: Int) = (1..n).joinToString(",") {
        "\"${Codec.base64(Codec.sha256(byteArrayOf(it.toByte())))}\""
    }

    private fun outcome(f: () -> Any?): String = try {
        when (val v = f()) {
            is Payload ->
                "ok ${v.type} ${v.audience} ${v.version} ${v.issuedAt} ${v.expiresAt} ${v.expiresAtText} ${v.domains}"
            is Envelope -> "ok ${v.payloadType} ${Codec.hex(Codec.sha256(v.payload))} " +
                v.signatures.joinToString { "${it.keyid}:${Codec.hex(it.sig)}" }
            else -> "ok $v"
        }
    } catch (e: PinctlException) {
        "${e.javaClass.simpleName}: ${e.message}"
    }

    /** The payload's verdict with the fast path first equals the general reader's; true when it was fast. */
    private fun samePayloadVerdict(text: ByteArray): Boolean {
        val general = outcome { Payloads.decodeGeneral(text, BundleType.PINS) }
        assertEquals(general, outcome { Payloads.decode(text, BundleType.PINS) }, String(text, Charsets.ISO_8859_1))
        val fast = PinsReader.read(text) ?: return false
        assertTrue(general.startsWith("ok "), "the fast path accepted what the general reader refuses: $general")
        val h = Payloads.header(text)
        assertEquals(listOf(h.type, h.audience, h.version, h.issuedAt, h.expiresAt).toString(),
            listOf(fast.type, fast.audience, fast.version, fast.issuedAt, fast.expiresAt).toString())
        return true
    }

    private fun sameEnvelopeVerdict(bytes: ByteArray): Boolean {
        val general = outcome { Envelope.parseGeneral(bytes) }
        assertEquals(general, outcome { Envelope.parse(bytes) }, String(bytes, Charsets.ISO_8859_1).take(300))
        fastPathOrNull { Envelope.readPlain(bytes) } ?: return false
        assertTrue(general.startsWith("ok "), "the fast path accepted what the general reader refuses: $general")
        return true
    }

    @Test
    fun `every vector file gets the same verdict through the fast paths as through the general reader`() {
        val files = File(Fixtures.bundles, "vectors").walkTopDown()
            .filter { it.isFile && it.name.endsWith(".json") }.toList()
        var fastEnvelopes = 0
        var fastPayloads = 0
        for (f in files) {
            val bytes = f.readBytes()
            if (sameEnvelopeVerdict(bytes)) fastEnvelopes++
            val env = try { Envelope.parseGeneral(bytes) } catch (e: PinctlException) { continue }
            if (env.payloadType == BundleType.PINS.payloadType && samePayloadVerdict(env.payload)) fastPayloads++
        }
        assertTrue(files.size >= 20, "expected the vector files, found ${files.size}")
        assertTrue(fastEnvelopes >= 10 && fastPayloads >= 5, "fast: $fastEnvelopes envelopes, $fastPayloads payloads")
    }

    @Test
    fun `mutated pins payloads get the general reader's verdict`() {
        val base = payload()
        val accepted = listOf(
            base,
            base.replace(",", " ,\n\t").replace("\":", "\" : ").replace("{", "{ ").replace("}", "\r\n}"),
            payload(domain("a.example.com") + "," + domain("b.example.com", "\"$slashPin\",\"$pinA\"", inc = "false")),
            "{\"domains\":[${domain("api.example.com")}]," + base.substring(1, base.indexOf(",\"domains\"")) + "}",
            payload(domain("api.example.com", manyPins(64))),
        )
        for (p in accepted) assertTrue(samePayloadVerdict(p.toByteArray()), "expected the fast path to take: $p")
        val mutations = listOf(
            base.replace("\"domain\"", "\"dom\\u0061in\""), // accepted by the general reader only
            payload(audience = "com.ex\u00e4mple.app"),
            payload(domain("api.example.com", "\"${slashPin.replace("/", "\\/")}\",\"$pinA\"")),
            payload(version = "7.0"),
            payload(version = "0"), payload(version = "-7"), payload(version = "9007199254740992"),
            payload(version = "\"7\""),
            payload(version = "7e0"), payload(version = "007"),
            base.replace("\"version\":7", "\"version\":7,\"version\":8"),
            base.replace("\"includeSubdomains\":true", "\"includeSubdomains\":true,\"includeSubdomains\":false"),
            base.replace("\"type\"", "\"extra\":1,\"type\""),
            base.replace("\"pins\"", "\"note\":\"x\",\"pins\""),
            base.replace("\"type\":\"pins\"", "\"type\":\"trust-roots\""),
            base.replace("\"audience\":\"com.example.app\"", "\"audience\":\"\""),
            base.replace("\"issuedAt\"", "\"issuedat\""),
            payload(domain("api.example.com", "\"$pinA\"")),
            payload(domain("api.example.com", "\"$pinA\",\"$pinA\"")),
            payload(domain("api.example.com", "\"$pinA\",\"${pinB.dropLast(2)}=\"")),
            payload(domain("api.example.com", "\"$pinA\",\"${pinB.dropLast(2)}B=\"")),
            payload(domain("api.example.com", "\"$pinA\",\"${pinB.dropLast(1)}\"")),
            payload(domain("api.example.com", manyPins(65))),
            payload(domain("API.example.com")), payload(domain("*.example.com")), payload(domain("example.com.")),
            payload(domain("-a.example.com")), payload(domain("a".repeat(64) + ".com")), payload(domain("")),
            payload(domain("api\\\".example.com")),
            payload(domain("api.example.com") + "," + domain("api.example.com")),
            payload(domain("api.example.com", inc = "\"true\"")), payload(domain("api.example.com", inc = "null")),
            payload(""), base.replace("\"domains\":[", "\"domains\":{\"x\":[").replace("]}", "]}}"),
            base.replace(TestSigner.iso(now + 86_400_000L), TestSigner.iso(now - 1000)),
            base.replace(TestSigner.iso(now + 86_400_000L), TestSigner.iso(now + 367 * 86_400_000L)),
            base.replace(TestSigner.iso(now), "2026-02-30T00:00:00Z"),
            "$base x", "\uFEFF$base", base.dropLast(1), "[$base]", "$base$base",
        )
        for (p in mutations) assertTrue(!samePayloadVerdict(p.toByteArray()), "expected the general path for: $p")
        // 0xC3 then 'e': a broken two-byte character in the member name "audience"
        val badUtf8 = base.toByteArray().also { it[it.indexOf('c'.code.toByte())] = 0xC3.toByte() }
        assertNull(PinsReader.read(badUtf8))
        samePayloadVerdict(badUtf8)
    }

    @Test
    fun `mutated envelopes get the general reader's verdict`() {
        val key = TestSigner()
        val good = String(key.envelope(payload()))
        assertTrue(sameEnvelopeVerdict(good.toByteArray()))
        assertTrue(sameEnvelopeVerdict(good.replace(",", " ,\n ").replace(":", "\t:\t").toByteArray()))
        assertNotNull(fastPathOrNull { Envelope.readPlain(good.toByteArray()) })
        val b64 = Regex("\"payload\":\"([^\"]*)\"").find(good)!!.groupValues[1]
        val sig = Regex("\"sig\":\"([^\"]*)\"").find(good)!!.groupValues[1]
        val mutations = listOf(
            good.replace("/", "\\/"), // valid JSON for the same bytes, general reader only
            good.replace("\"payloadType\"", "\"payload\\u0054ype\""),
            good.replace("\"payload\":", "\"payload\":\"AAAA\",\"payload\":"),
            good.replace("\"sig\":", "\"keyid\":\"x\",\"sig\":"),
            good.replace("\"signatures\"", "\"extra\":1,\"signatures\""),
            good.replace("{\"keyid\"", "{\"extra\":1,\"keyid\""),
            good.replace(b64, b64.dropLast(4)), good.replace(b64, b64 + "="), good.replace(b64, b64.replace("=", "A")),
            good.replace(b64, b64.substring(0, 8) + "\\n" + b64.substring(8)),
            good.replace(b64, b64.substring(0, 8) + "\u00e9" + b64.substring(12)),
            good.replace(sig, sig.substring(4)), good.replace(key.keyid, "k".repeat(129)),
            good.replace(key.keyid, "k".repeat(128)),
            good.replace("\"application/vnd.pinctl.pins.v1+json\"", "\"\""),
            good.replace("[{", "[").replace("}]", "]"), good.replace(Regex("\\[.*]"), "[]"),
            good.replace(Regex("\\[(.*)]"), "[" + (1..17).joinToString(",") { "$1" } + "]"),
            good.replace(Regex("\\[(.*)]"), "[" + (1..16).joinToString(",") { "$1" } + "]"),
            "$good x", "\uFEFF$good", good.dropLast(1), "[$good]",
        )
        for (m in mutations) sameEnvelopeVerdict(m.toByteArray())
        assertNull(fastPathOrNull { Envelope.readPlain(mutations[0].toByteArray()) })
        val unescaped = outcome { Envelope.parseGeneral(good.toByteArray()) }
        assertEquals(unescaped, outcome { Envelope.parse(mutations[0].toByteArray()) })
    }
}
