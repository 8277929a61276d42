package dev.pinctl.android

import org.bouncycastle.util.encoders.Base64
import org.bouncycastle.util.encoders.Hex
import java.security.MessageDigest

/**
 * Base64, hex, SHA-256 and RFC 3339 UTC times without java.util.Base64 or java.time, which
 * Android has only from API 26.
 */
internal object Codec {
    private val RFC3339_UTC = Regex("^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d{1,9}))?Z$")

    private const val ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    private const val PAD: Byte = 0x3d // '='
    private val DECODE = IntArray(256) { -1 }.also { t -> ALPHABET.forEachIndexed { i, c -> t[c.code] = i } }

    /**
     * Standard base64 with canonical padding (unused bits zero), or null. Hand-rolled because it
     * must refuse what lenient decoders skip (whitespace, missing padding) and run in one pass over
     * a 2 MB payload; a regex over the whole string is slow and deep on the JVM.
     */
    fun base64OrNull(s: String): ByteArray? {
        val b = s.toByteArray(Charsets.ISO_8859_1) // a character beyond Latin-1 becomes '?', not base64
        return base64OrNull(b, 0, b.size)
    }

    /** base64OrNull of the ASCII text in `b[from until to]` (an envelope's payload, read in place). */
    fun base64OrNull(b: ByteArray, from: Int, to: Int): ByteArray? {
        val n = to - from
        if (n % 4 != 0) return null
        if (n == 0) return ByteArray(0)
        val pad = if (b[to - 1] != PAD) 0 else if (b[to - 2] == PAD) 2 else 1
        val out = ByteArray(n / 4 * 3 - pad)
        var o = 0
        var i = from
        val last = to - 4
        while (i < last) {
            val v = (digit(b[i]) shl 18) or (digit(b[i + 1]) shl 12) or (digit(b[i + 2]) shl 6) or digit(b[i + 3])
            if (v < 0) return null // a -1 digit makes the whole value negative
            out[o] = (v shr 16).toByte()
            out[o + 1] = (v shr 8).toByte()
            out[o + 2] = v.toByte()
            o += 3
            i += 4
        }
        val a = digit(b[i])
        val c1 = digit(b[i + 1])
        val c2 = if (pad == 2) 0 else digit(b[i + 2])
        val c3 = if (pad >= 1) 0 else digit(b[i + 3])
        if ((a or c1 or c2 or c3) < 0) return null
        if (pad == 2 && (c1 and 0x0f) != 0) return null
        if (pad == 1 && (c2 and 0x03) != 0) return null
        val v = (a shl 18) or (c1 shl 12) or (c2 shl 6) or c3
        out[o] = (v shr 16).toByte()
        if (pad < 2) out[o + 1] = (v shr 8).toByte()
        if (pad < 1) out[o + 2] = v.toByte()
        return out
    }

    /** Whether `b[from until to]` is a pin (base64 of 32 bytes, canonical) without decoding it. */
    fun isPinBase64(b: ByteArray, from: Int, to: Int): Boolean {
        if (to - from != 44 || b[to - 1] != PAD) return false
        for (k in from until to - 1) if (digit(b[k]) < 0) return false
        return (digit(b[to - 2]) and 0x03) == 0
    }

    private fun digit(c: Byte): Int = DECODE[c.toInt() and 0xff]

    fun base64(bytes: ByteArray): String = Base64.toBase64String(bytes)

    fun hex(bytes: ByteArray): String = Hex.toHexString(bytes)

    fun unhex(text: String): ByteArray = Hex.decode(text)

    fun sha256(bytes: ByteArray): ByteArray = MessageDigest.getInstance("SHA-256").digest(bytes)

    /** Milliseconds since the epoch of `2026-11-22T12:00:00Z`, or null; impossible dates (02-30) are null. */
    fun parseTime(text: String): Long? {
        val m = RFC3339_UTC.matchEntire(text) ?: return null
        val (y, mo, d, h, mi, s) = m.destructured
        val year = y.toInt()
        val month = mo.toInt()
        val day = d.toInt()
        if (month !in 1..12 || day < 1 || day > daysInMonth(year, month)) return null
        if (h.toInt() > 23 || mi.toInt() > 59 || s.toInt() > 59) return null
        val frac = m.groupValues[7]
        val millis = if (frac.isEmpty()) 0 else frac.padEnd(3, '0').substring(0, 3).toInt()
        val days = daysFromCivil(year, month, day)
        return ((days * 24 + h.toInt()) * 60 + mi.toInt()) * 60_000L + s.toInt() * 1000L + millis
    }

    /** `2026-11-22T12:00:00.000Z`, as JavaScript's toISOString writes it (report JSON). */
    fun formatTime(ms: Long): String {
        val days = Math.floorDiv(ms, 86_400_000L)
        val rest = Math.floorMod(ms, 86_400_000L)
        val (y, m, d) = civilFromDays(days)
        return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ".format(
            y, m, d, rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000,
        )
    }

    private fun daysInMonth(y: Int, m: Int): Int = when (m) {
        2 -> if (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) 29 else 28
        4, 6, 9, 11 -> 30
        else -> 31
    }

    // Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian calendar).
    private fun daysFromCivil(y0: Int, m: Int, d: Int): Long {
        val y = (if (m <= 2) y0 - 1 else y0).toLong()
        val era = Math.floorDiv(y, 400L)
        val yoe = y - era * 400
        val doy = (153 * (if (m > 2) m - 3 else m + 9) + 2) / 5 + d - 1
        val doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private fun civilFromDays(z0: Long): Triple<Int, Int, Int> {
        val z = z0 + 719_468
        val era = Math.floorDiv(z, 146_097L)
        val doe = z - era * 146_097
        val yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        val doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        val mp = (5 * doy + 2) / 153
        val d = (doy - (153 * mp + 2) / 5 + 1).toInt()
        val m = (if (mp < 10) mp + 3 else mp - 9).toInt()
        val y = (yoe + era * 400 + (if (m <= 2) 1 else 0)).toInt()
        return Triple(y, m, d)
    }
}
