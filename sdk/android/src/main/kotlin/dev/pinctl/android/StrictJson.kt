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
    private const val MAX_DEPTH = 64

    fun parse(bytes: ByteArray): Any? {
        val text = try {
            Charsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(bytes)).toString()
        } catch (e: CharacterCodingException) {
            throw StrictJsonException("expected UTF-8")
        }
        // A BOM (U+FEFF) is not JSON whitespace, so it fails below like any other stray character.
        val r = Reader(text)
        r.ws()
        val v = r.value(0)
        r.ws()
        if (r.i != text.length) r.fail("end of input")
        return v
    }

    private class Reader(val s: String) {
        var i = 0

        fun fail(expected: String): Nothing {
            val found = if (i >= s.length) "end of input" else "'${s[i]}'"
            throw StrictJsonException("expected $expected at offset $i, found $found")
        }

        fun ws() {
            while (i < s.length && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++
        }

        fun value(depth: Int): Any? {
            if (depth > MAX_DEPTH) throw StrictJsonException("nesting deeper than $MAX_DEPTH levels")
            if (i >= s.length) fail("a value")
            return when (s[i]) {
                '{' -> obj(depth)
                '[' -> arr(depth)
                '"' -> str()
                't' -> word("true", true)
                'f' -> word("false", false)
                'n' -> word("null", null)
                else -> num()
            }
        }

        fun word(w: String, v: Any?): Any? {
            if (!s.startsWith(w, i)) fail(w)
            i += w.length
            return v
        }

        fun obj(depth: Int): Map<String, Any?> {
            i++
            val out = LinkedHashMap<String, Any?>()
            ws()
            if (i < s.length && s[i] == '}') { i++; return out }
            while (true) {
                ws()
                if (i >= s.length || s[i] != '"') fail("a member name")
                val key = str()
                if (out.containsKey(key)) throw StrictJsonException("member \"$key\" appears twice in one object")
                ws()
                if (i >= s.length || s[i] != ':') fail("':'")
                i++
                ws()
                out[key] = value(depth + 1)
                ws()
                if (i < s.length && s[i] == ',') { i++; continue }
                if (i < s.length && s[i] == '}') { i++; return out }
                fail("',' or '}'")
            }
        }

        fun arr(depth: Int): List<Any?> {
            i++
            val out = ArrayList<Any?>()
            ws()
            if (i < s.length && s[i] == ']') { i++; return out }
            while (true) {
                ws()
                out.add(value(depth + 1))
                ws()
                if (i < s.length && s[i] == ',') { i++; continue }
                if (i < s.length && s[i] == ']') { i++; return out }
                fail("',' or ']'")
            }
        }

        fun str(): String {
            i++ // opening quote
            val start = i
            while (i < s.length) { // fast path: no escapes (every base64 value, every pin)
                val c = s[i]
                if (c == '"') return s.substring(start, i++)
                if (c == '\\' || c < ' ') break
                i++
            }
            i = start
            val sb = StringBuilder()
            while (true) {
                if (i >= s.length) fail("'\"'")
                val c = s[i++]
                when {
                    c == '"' -> return sb.toString()
                    c == '\\' -> escape(sb)
                    c < ' ' -> { i--; fail("an escaped control character") }
                    else -> sb.append(c)
                }
            }
        }

        fun escape(sb: StringBuilder) {
            if (i >= s.length) fail("an escape")
            when (val e = s[i++]) {
                '"', '\\', '/' -> sb.append(e)
                'b' -> sb.append('\b')
                'f' -> sb.append('\u000C')
                'n' -> sb.append('\n')
                'r' -> sb.append('\r')
                't' -> sb.append('\t')
                'u' -> {
                    if (i + 4 > s.length) fail("four hex digits")
                    val h = s.substring(i, i + 4)
                    if (!h.all { it in '0'..'9' || it in 'a'..'f' || it in 'A'..'F' }) fail("four hex digits")
                    sb.append(h.toInt(16).toChar())
                    i += 4
                }
                else -> { i--; fail("a valid escape") }
            }
        }

        fun num(): BigDecimal {
            val start = i
            if (i < s.length && s[i] == '-') i++
            if (i < s.length && s[i] == '0') i++
            else if (i < s.length && s[i] in '1'..'9') while (i < s.length && s[i].isAsciiDigit()) i++
            else fail("a value")
            if (i < s.length && s[i] == '.') { i++; digits() }
            if (i < s.length && (s[i] == 'e' || s[i] == 'E')) {
                i++
                if (i < s.length && (s[i] == '+' || s[i] == '-')) i++
                digits()
            }
            return try {
                BigDecimal(s.substring(start, i))
            } catch (e: NumberFormatException) {
                throw StrictJsonException("number out of range at offset $start")
            }
        }

        fun digits() {
            val start = i
            while (i < s.length && s[i].isAsciiDigit()) i++
            if (i == start) fail("a digit")
        }

        private fun Char.isAsciiDigit() = this in '0'..'9'
    }
}
