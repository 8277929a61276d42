package dev.pinctl.android

import java.math.BigDecimal
import java.nio.ByteBuffer
import java.nio.charset.CharacterCodingException
import java.nio.charset.CodingErrorAction

/** Why bytes are not strict JSON (SPEC §3): the caller turns it into EnvelopeError or PayloadError. */
class StrictJsonException(message: String) : Exception(message)

/**
 * RFC 8259 JSON as every pinctl implementation reads it (SPEC §3): UTF-8 only, no byte-order mark,
 * no object with the same member twice. Objects become LinkedHashMap, arrays List, numbers
 * BigDecimal (exact, so version 2^53-1 is not rounded), plus String, Boolean and null.
 * Why not a library: see sdk/android/README.md ("Strict JSON").
 */
object StrictJson {
    internal const val MAX_DEPTH = 64

    fun parse(bytes: ByteArray): Any? {
        try {
            val r = JsonReader(bytes)
            r.ws()
            val v = r.value(0)
            if (!r.atEnd()) r.fail("end of input")
            return v
        } catch (e: StrictJsonException) {
            // Bad UTF-8 is named first, wherever it is, as when the whole text was decoded up front.
            if (utf8(bytes, 0, bytes.size) == null) throw StrictJsonException("expected UTF-8")
            throw e
        }
    }

    /** Strict UTF-8 (no replacement character for malformed input), or null. */
    internal fun utf8(b: ByteArray, from: Int, to: Int): String? = try {
        Charsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(ByteBuffer.wrap(b, from, to - from)).toString()
    } catch (e: CharacterCodingException) {
        null
    }
}

/** Thrown by a fast path (Envelope.readPlain, PinsReader) on input off its common case. */
internal class OffFastPath : RuntimeException(null, null, false, false)

internal fun offFastPath(): Nothing = throw OffFastPath()

/** `block`'s result, or null when the input left the fast path (the caller then reads it the general way). */
internal inline fun <T> fastPathOrNull(block: () -> T): T? = try {
    block()
} catch (e: OffFastPath) {
    null
} catch (e: StrictJsonException) {
    null
}

/**
 * The one strict-JSON reader, over the UTF-8 bytes themselves (no decoded copy of a 2 MB bundle):
 * bytes outside strings must be ASCII JSON tokens, so checking each string's bytes checks the text.
 * value() builds the general tree; the plain*() members serve the fast paths, which read a known
 * shape straight into the model and give up (OffFastPath) on anything else.
 */
internal class JsonReader(private val b: ByteArray) {
    var i = 0
    private val n = b.size

    fun fail(expected: String): Nothing {
        val found = if (i >= n) "end of input" else (b[i].toInt() and 0xff).let { c ->
            if (c in 0x20..0x7e) "'${c.toChar()}'" else "byte 0x%02x".format(c)
        }
        throw StrictJsonException("expected $expected at offset $i, found $found")
    }

    fun ws() {
        while (i < n) {
            val c = b[i].toInt()
            if (c != SP && c != LF && c != CR && c != TAB) return
            i++
        }
    }

    /** Skips whitespace, then consumes `c` when it comes next. */
    fun eat(c: Char): Boolean {
        ws()
        if (i < n && b[i].toInt() == c.code) {
            i++
            return true
        }
        return false
    }

    fun atEnd(): Boolean {
        ws()
        return i == n
    }

    fun value(depth: Int): Any? {
        if (depth > StrictJson.MAX_DEPTH) {
            throw StrictJsonException("nesting deeper than ${StrictJson.MAX_DEPTH} levels")
        }
        if (i >= n) fail("a value")
        return when (b[i].toInt()) {
            '{'.code -> obj(depth)
            '['.code -> arr(depth)
            QUOTE -> str()
            't'.code -> word("true", true)
            'f'.code -> word("false", false)
            'n'.code -> word("null", null)
            else -> num()
        }
    }

    private fun word(w: String, v: Any?): Any? {
        if (!startsWith(w)) fail(w)
        i += w.length
        return v
    }

    private fun startsWith(w: String): Boolean {
        if (i + w.length > n) return false
        for (k in w.indices) if (b[i + k].toInt() != w[k].code) return false
        return true
    }

    private fun obj(depth: Int): Map<String, Any?> {
        i++
        val out = LinkedHashMap<String, Any?>()
        if (eat('}')) return out
        while (true) {
            ws()
            if (i >= n || b[i].toInt() != QUOTE) fail("a member name")
            val key = str()
            if (out.containsKey(key)) throw StrictJsonException("member \"$key\" appears twice in one object")
            if (!eat(':')) fail("':'")
            ws()
            out[key] = value(depth + 1)
            if (eat(',')) continue
            if (eat('}')) return out
            fail("',' or '}'")
        }
    }

    private fun arr(depth: Int): List<Any?> {
        i++
        val out = ArrayList<Any?>()
        if (eat(']')) return out
        while (true) {
            ws()
            out.add(value(depth + 1))
            if (eat(',')) continue
            if (eat(']')) return out
            fail("',' or ']'")
        }
    }

    private fun str(): String {
        val start = ++i // past the opening quote
        while (i < n) { // fast path: ASCII without escapes (every base64 value, pin and host name)
            val c = b[i].toInt()
            if (c == QUOTE) return String(b, start, i++ - start, Charsets.ISO_8859_1)
            if (c == BACKSLASH || c < 0x20) break // c < 0: a byte of a multi-byte UTF-8 character
            i++
        }
        i = start
        val sb = StringBuilder()
        var run = i // start of the bytes not yet decoded into sb
        while (true) {
            if (i >= n) fail("'\"'")
            val c = b[i].toInt()
            when {
                c == QUOTE -> {
                    appendUtf8(sb, run, i++)
                    return sb.toString()
                }
                c == BACKSLASH -> {
                    appendUtf8(sb, run, i++)
                    escape(sb)
                    run = i
                }
                c in 0 until 0x20 -> fail("an escaped control character")
                else -> i++
            }
        }
    }

    private fun appendUtf8(sb: StringBuilder, from: Int, to: Int) {
        if (to > from) sb.append(StrictJson.utf8(b, from, to) ?: throw StrictJsonException("expected UTF-8"))
    }

    private fun escape(sb: StringBuilder) {
        if (i >= n) fail("an escape")
        when (val e = b[i++].toInt()) {
            QUOTE, BACKSLASH, '/'.code -> sb.append(e.toChar())
            'b'.code -> sb.append('\b')
            'f'.code -> sb.append('\u000C')
            'n'.code -> sb.append('\n')
            'r'.code -> sb.append('\r')
            't'.code -> sb.append('\t')
            'u'.code -> {
                if (i + 4 > n) fail("four hex digits")
                var v = 0
                for (k in 0 until 4) {
                    val d = Character.digit(b[i + k].toInt() and 0xff, 16)
                    if (d < 0 || b[i + k] < 0) fail("four hex digits")
                    v = v * 16 + d
                }
                sb.append(v.toChar())
                i += 4
            }
            else -> {
                i--
                fail("a valid escape")
            }
        }
    }

    private fun num(): BigDecimal {
        val start = i
        if (i < n && b[i].toInt() == '-'.code) i++
        if (i < n && b[i].toInt() == '0'.code) i++
        else if (i < n && b[i].toInt() in '1'.code..'9'.code) while (isDigit(i)) i++
        else fail("a value")
        if (i < n && b[i].toInt() == '.'.code) {
            i++
            digits()
        }
        if (i < n && (b[i].toInt() == 'e'.code || b[i].toInt() == 'E'.code)) {
            i++
            if (i < n && (b[i].toInt() == '+'.code || b[i].toInt() == '-'.code)) i++
            digits()
        }
        return try {
            BigDecimal(String(b, start, i - start, Charsets.ISO_8859_1))
        } catch (e: NumberFormatException) {
            throw StrictJsonException("number out of range at offset $start")
        }
    }

    private fun digits() {
        val start = i
        while (isDigit(i)) i++
        if (i == start) fail("a digit")
    }

    private fun isDigit(k: Int) = k < n && b[k].toInt() in '0'.code..'9'.code

    // ---- fast paths: each returns the common case or throws OffFastPath ----

    /** The input, for checks on a plain string's bytes (base64, pins). */
    val bytes: ByteArray get() = b

    /**
     * At a string without escape, control or non-ASCII byte: moves past it and returns the offset
     * of its first character (its last is at i - 2). Anything else: OffFastPath.
     */
    fun plainString(): Int {
        ws()
        if (i >= n || b[i].toInt() != QUOTE) offFastPath()
        val start = ++i
        while (i < n) {
            val c = b[i].toInt()
            if (c == QUOTE) {
                i++
                return start
            }
            if (c == BACKSLASH || c < 0x20) offFastPath()
            i++
        }
        offFastPath()
    }

    /**
     * At a string: moves past its closing quote and returns the offset of its first character,
     * leaving the bytes between unchecked. Only for values whose own check refuses a backslash, a
     * control and a non-ASCII byte (base64, pins, host names), so one pass over 2 MB is saved.
     */
    fun uncheckedString(): Int {
        ws()
        if (i >= n || b[i].toInt() != QUOTE) offFastPath()
        val start = i + 1
        var k = start // a local: the scan runs over the whole 2 MB payload
        while (k < n && b[k].toInt() != QUOTE) k++
        if (k == n) offFastPath()
        i = k + 1
        return start
    }

    fun plainText(): String {
        val start = plainString()
        return String(b, start, i - 1 - start, Charsets.ISO_8859_1)
    }

    /** A member name among `names` (its index) and its colon; an unknown name: OffFastPath. */
    fun member(names: Array<ByteArray>): Int {
        val start = plainString()
        val len = i - 1 - start
        for (k in names.indices) {
            val name = names[k]
            if (name.size != len) continue
            var same = true
            for (j in 0 until len) if (b[start + j] != name[j]) { same = false; break }
            if (same) {
                if (!eat(':')) offFastPath()
                return k
            }
        }
        offFastPath()
    }

    /** An integer written plainly (no sign, fraction or exponent) from 1 to 2^53-1. */
    fun plainSafeInteger(): Long {
        ws()
        val start = i
        if (i >= n || b[i].toInt() !in '1'.code..'9'.code) offFastPath()
        var v = 0L
        while (isDigit(i)) {
            if (i - start == 16) offFastPath()
            v = v * 10 + (b[i] - '0'.code.toByte())
            i++
        }
        val next = if (i < n) b[i].toInt() else 0
        if (v > MAX_SAFE_INTEGER || next == '.'.code || next == 'e'.code || next == 'E'.code) offFastPath()
        return v
    }

    fun plainBoolean(): Boolean {
        ws()
        if (startsWith("true")) { i += 4; return true }
        if (startsWith("false")) { i += 5; return false }
        offFastPath()
    }

    fun expect(c: Char) {
        if (!eat(c)) offFastPath()
    }

    companion object {
        const val MAX_SAFE_INTEGER = 9007199254740991L
        private const val QUOTE = 0x22
        private const val BACKSLASH = 0x5c
        private const val SP = 0x20
        private const val LF = 0x0a
        private const val CR = 0x0d
        private const val TAB = 0x09

        fun names(vararg names: String): Array<ByteArray> =
            Array(names.size) { names[it].toByteArray(Charsets.US_ASCII) }
    }
}
