package dev.pinctl.android

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import java.time.Instant
import kotlin.random.Random

/** The hand-rolled codecs against the JDK's (which the SDK cannot use on Android API 24). */
class CodecTest {
    @Test
    fun `base64 decodes what java util Base64 encodes, and refuses non-canonical text`() {
        val r = Random(7)
        for (n in 0..70) {
            val bytes = r.nextBytes(n)
            val text = java.util.Base64.getEncoder().encodeToString(bytes)
            assertArrayEquals(bytes, Codec.base64OrNull(text), text)
            assertEquals(text, Codec.base64(bytes))
        }
        for (bad in listOf("QR==", "QUI=x", "QUJ=", "QQ", "QQ=", "Q Q==", "QQ==\n", "=QQ=", "QUJD\nREVG", "QU\u00e9=")) {
            assertNull(Codec.base64OrNull(bad), bad)
        }
    }

    @Test
    fun `RFC 3339 UTC times - real calendar dates only, same instants as java time`() {
        for (t in listOf("2026-11-22T12:00:00Z", "2024-02-29T23:59:59Z", "1970-01-01T00:00:00Z", "2099-12-31T00:00:00.123Z")) {
            assertEquals(Instant.parse(t).toEpochMilli(), Codec.parseTime(t), t)
        }
        for (bad in listOf("2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T12:00:00+01:00", "2026-11-22 12:00:00Z")) {
            assertNull(Codec.parseTime(bad), bad)
        }
        val ms = Instant.parse("2026-11-22T12:34:56.789Z").toEpochMilli()
        assertEquals("2026-11-22T12:34:56.789Z", Codec.formatTime(ms))
    }

    @Test
    fun `strict JSON refuses duplicates at any depth, a BOM and bad UTF-8, and keeps big integers exact`() {
        for (bad in listOf("{\"a\":1,\"a\":2}", "{\"x\":[{\"b\":1,\"b\":1}]}", "\uFEFF{}", "{\"a\":1,}", "[1 2]", "01", "{\"a\":\"\u0001\"}")) {
            assertThrowsStrict(bad.toByteArray())
        }
        assertThrowsStrict(byteArrayOf('"'.code.toByte(), 0xC3.toByte(), '"'.code.toByte()))
        val v = StrictJson.parse("{\"v\":9007199254740993,\"s\":\"\\u00e9\\n\"}".toByteArray()).obj()
        assertEquals(java.math.BigDecimal("9007199254740993"), v["v"])
        assertEquals("é\n", v["s"])
    }

    private fun assertThrowsStrict(bytes: ByteArray) {
        org.junit.jupiter.api.assertThrows<StrictJsonException>(String(bytes)) { StrictJson.parse(bytes) }
    }
}
