package dev.pinctl.android

import java.math.BigDecimal

/**
 * A pins payload (SPEC §3, §3.1) read in one pass from its bytes straight into the pin model: no
 * general JSON tree (a map per domain), no path string per member, no decoding of pins to check
 * them. Only the common case: a valid payload written with plain ASCII strings. Anything else (an
 * escape, a non-ASCII byte, an unknown or repeated member, a value the rules refuse, bad JSON)
 * returns null, and the caller takes the general path (StrictJson + Payloads.decodeDocument),
 * which gives the exact error in SPEC §4's order. So this reader never refuses a bundle itself: it
 * accepts only what the general path accepts (the conformance vectors run through both).
 */
internal object PinsReader {
    private val MEMBERS = JsonReader.names("type", "audience", "version", "issuedAt", "expiresAt", "domains")
    private val DOMAIN_MEMBERS = JsonReader.names("domain", "includeSubdomains", "pins")
    private const val ALL_MEMBERS = 0b111111

    /** The header of a valid pins payload with its decoded payload (steps 5 and 9 at once), or null. */
    fun read(bytes: ByteArray): PayloadHeader? = fastPathOrNull { header(JsonReader(bytes), bytes.size) }

    private fun header(r: JsonReader, size: Int): PayloadHeader {
        var seen = 0
        var type = ""
        var audience = ""
        var version = 0L
        var issuedText = ""
        var expiresText = ""
        var domains: List<PinsDomain> = emptyList()
        r.expect('{')
        do {
            val k = r.member(MEMBERS)
            if (seen and (1 shl k) != 0) offFastPath()
            seen = seen or (1 shl k)
            when (k) {
                0 -> type = r.plainText()
                1 -> audience = r.plainText()
                2 -> version = r.plainSafeInteger()
                3 -> issuedText = r.plainText()
                4 -> expiresText = r.plainText()
                else -> domains = domains(r, size)
            }
        } while (r.eat(','))
        r.expect('}')
        if (!r.atEnd() || seen != ALL_MEMBERS || type != BundleType.PINS.wire || audience.isEmpty()) offFastPath()
        val issued = Codec.parseTime(issuedText) ?: offFastPath()
        val expires = Codec.parseTime(expiresText) ?: offFastPath()
        if (expires <= issued || expires - issued > Payloads.MAX_LIFETIME_MS) offFastPath()
        val payload = Payload(BundleType.PINS, audience, version, issued, expires, expiresText, domains = domains)
        return PayloadHeader(type, audience, BigDecimal.valueOf(version), issuedText, expiresText, null, payload)
    }

    private fun domains(r: JsonReader, size: Int): List<PinsDomain> {
        // About 130 bytes a domain with two pins: sized once instead of grown (and rehashed) 14 times.
        val expected = minOf(Payloads.MAX_DOMAINS, size / 128 + 1)
        val out = ArrayList<PinsDomain>(expected)
        val seen = HashSet<String>(expected * 4 / 3 + 1)
        r.expect('[')
        do {
            if (out.size == Payloads.MAX_DOMAINS) offFastPath()
            val d = domain(r)
            if (!seen.add(d.domain)) offFastPath()
            out.add(d)
        } while (r.eat(','))
        r.expect(']')
        return out
    }

    private fun domain(r: JsonReader): PinsDomain {
        var seen = 0
        var domain = ""
        var inc = false
        var pins: List<String> = emptyList()
        r.expect('{')
        do {
            val k = r.member(DOMAIN_MEMBERS)
            if (seen and (1 shl k) != 0) offFastPath()
            seen = seen or (1 shl k)
            when (k) {
                0 -> domain = hostname(r)
                1 -> inc = r.plainBoolean()
                else -> pins = pins(r)
            }
        } while (r.eat(','))
        r.expect('}')
        if (seen != 0b111) offFastPath()
        return PinsDomain(domain, inc, pins)
    }

    private fun hostname(r: JsonReader): String {
        val start = r.uncheckedString() // checked by isHostname: a-z, 0-9, '-' and '.' only
        val end = r.i - 1
        if (end - start > 253 || !Payloads.isHostname(r.bytes, start, end)) offFastPath()
        return String(r.bytes, start, end - start, Charsets.ISO_8859_1)
    }

    private fun pins(r: JsonReader): List<String> {
        val out = ArrayList<String>(2)
        r.expect('[')
        do {
            if (out.size == Payloads.MAX_PINS_PER_DOMAIN) offFastPath()
            val start = r.uncheckedString() // checked by isPinBase64: 43 base64 digits and '='
            if (!Codec.isPinBase64(r.bytes, start, r.i - 1)) offFastPath()
            out.add(String(r.bytes, start, r.i - 1 - start, Charsets.ISO_8859_1))
        } while (r.eat(','))
        r.expect(']')
        if (out.size < 2 || out.all { it == out[0] }) offFastPath() // SPEC §3.1: a backup pin
        return out
    }
}
