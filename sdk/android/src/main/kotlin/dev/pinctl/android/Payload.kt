package dev.pinctl.android

import java.math.BigDecimal

/** Payload types and their DSSE payloadType strings (SPEC §1.4). */
enum class BundleType(val wire: String, val payloadType: String) {
    PINS("pins", "application/vnd.pinctl.pins.v1+json"),
    TRUST_ROOTS("trust-roots", "application/vnd.pinctl.trust-roots.v1+json"),
    KEYSET("keyset", "application/vnd.pinctl.keyset.v1+json");

    companion object {
        fun ofPayloadType(t: String): BundleType? = entries.firstOrNull { it.payloadType == t }
        fun ofWire(t: String): BundleType? = entries.firstOrNull { it.wire == t }
    }
}

data class PinsDomain(val domain: String, val includeSubdomains: Boolean, val pins: List<String>)
data class TrustRoot(val name: String, val spkiSha256: String, val certificate: String)
data class KeysetKey(val keyid: String, val publicKey: ByteArray)

/** SPEC §7.3.4: a keyset's optional `root` member, the next root role. */
class RootSpec(val threshold: Int, val keys: List<KeysetKey>, val expiresAt: Long)

/** A decoded payload (SPEC §3); times in ms since the epoch, as written in `issuedAtText`/`expiresAtText`. */
class Payload(
    val type: BundleType,
    val audience: String,
    val version: Long,
    val issuedAt: Long,
    val expiresAt: Long,
    val expiresAtText: String,
    val domains: List<PinsDomain> = emptyList(),
    val roots: List<TrustRoot> = emptyList(),
    val threshold: Int = 0,
    val keys: List<KeysetKey> = emptyList(),
    /** Keysets only (SPEC §7.3.4): the rotated root role, or null. */
    val root: RootSpec? = null,
)

/**
 * The common members only, for SPEC §4 steps 5–8, which run before the shape check of step 9.
 * `decoded`: the payload when a fast path (PinsReader) already found it valid, so step 9 has
 * nothing left to do; otherwise null and step 9 decodes `document`.
 */
class PayloadHeader(
    val type: Any?,
    val audience: Any?,
    val version: Any?,
    val issuedAt: Any?,
    val expiresAt: Any?,
    val document: Any?,
    val decoded: Payload? = null,
)

/** Payload rules (SPEC §3): each member validated with an error naming its path; unknown members refused. */
object Payloads {
    const val MAX_DOMAINS = 10_000
    const val MAX_PINS_PER_DOMAIN = 64
    const val MAX_ROOTS = 1_000
    const val MAX_KEYS = 16
    private val MAX_SAFE = BigDecimal(JsonReader.MAX_SAFE_INTEGER)
    private val HEX64 = Regex("^[0-9a-f]{64}$")
    /** SPEC §7.4: a yearly signing ceremony, leap years included. */
    const val MAX_LIFETIME_MS = 366L * 24 * 60 * 60_000

    /** A lower-case host name: labels of a-z, 0-9 and inner hyphens, 1 to 63 characters each. */
    fun isHostname(s: String): Boolean {
        val b = s.toByteArray(Charsets.ISO_8859_1) // a character beyond Latin-1 becomes '?', refused
        return isHostname(b, 0, b.size)
    }

    /** isHostname of the text in `b[from until to]` (a pins payload's domain, read in place). */
    fun isHostname(b: ByteArray, from: Int, to: Int): Boolean {
        var start = from
        while (true) {
            var end = start
            while (end < to && b[end] != DOT) end++
            val len = end - start
            if (len < 1 || len > 63 || b[start] == DASH || b[end - 1] == DASH) return false
            for (k in start until end) {
                val c = b[k].toInt()
                if (!(c in 'a'.code..'z'.code || c in '0'.code..'9'.code || c == DASH.toInt())) return false
            }
            if (end == to) return true
            start = end + 1
        }
    }

    private const val DOT: Byte = 0x2e
    private const val DASH: Byte = 0x2d
    private val COMMON = listOf("type", "audience", "version", "issuedAt", "expiresAt")
    private val EXTRA = mapOf(
        BundleType.PINS to listOf("domains"),
        BundleType.TRUST_ROOTS to listOf("roots"),
        BundleType.KEYSET to listOf("threshold", "keys"),
    )

    private fun parse(bytes: ByteArray): Any? = try {
        StrictJson.parse(bytes)
    } catch (e: StrictJsonException) {
        throw PayloadError("payload: expected UTF-8 JSON without a byte-order mark or repeated members (${e.message})")
    }

    /**
     * SPEC §4.5: the parsed payload and its common members (parsed once, for steps 5–9). A pins
     * payload is first read by PinsReader, straight into the model; only if that gives up (any
     * unusual or invalid input) is the general JSON tree built.
     */
    fun header(bytes: ByteArray, expected: BundleType? = null): PayloadHeader {
        if (expected == BundleType.PINS) PinsReader.read(bytes)?.let { return it }
        val doc = parse(bytes)
        val o = doc as? Map<*, *> ?: throw PayloadError("payload: expected a UTF-8 JSON object")
        return PayloadHeader(o["type"], o["audience"], o["version"], o["issuedAt"], o["expiresAt"], doc)
    }

    /** SPEC §3 and §4.9: bytes to a payload of the expected type, or PayloadError. */
    fun decode(bytes: ByteArray, type: BundleType): Payload =
        (if (type == BundleType.PINS) PinsReader.read(bytes)?.decoded else null) ?: decodeGeneral(bytes, type)

    /** decode() through the general JSON tree only (what PinsReader must agree with). */
    internal fun decodeGeneral(bytes: ByteArray, type: BundleType): Payload = decodeDocument(parse(bytes), type)

    /** SPEC §4.9 on a document header() already parsed. */
    fun decodeDocument(doc: Any?, type: BundleType): Payload {
        val optional = if (type == BundleType.KEYSET) listOf("root") else emptyList() // SPEC §7.3.4, keysets only
        val o = obj(doc, "", COMMON + EXTRA.getValue(type), optional)
        if (o["type"] != type.wire) fail(".type", "\"${type.wire}\"", o["type"])
        val audience = string(o["audience"], ".audience")
        val version = safeInteger(o["version"], ".version", 1)
        val issued = timestamp(o["issuedAt"], ".issuedAt")
        val expires = timestamp(o["expiresAt"], ".expiresAt")
        if (expires <= issued) fail(".expiresAt", "a time after issuedAt (${o["issuedAt"]})", o["expiresAt"])
        val expText = o["expiresAt"] as String
        checkLifetime(type, issued, expires, o)
        return when (type) {
            BundleType.PINS -> Payload(type, audience, version, issued, expires, expText, domains = domains(o["domains"]))
            BundleType.TRUST_ROOTS -> Payload(type, audience, version, issued, expires, expText, roots = roots(o["roots"]))
            BundleType.KEYSET -> {
                val keys = keys(o["keys"])
                val threshold = safeInteger(o["threshold"], ".threshold", 1)
                if (threshold > keys.size) fail(".threshold", "an integer from 1 to ${keys.size}", o["threshold"])
                val root = if (o.containsKey("root")) root(o["root"]) else null
                val t = threshold.toInt()
                Payload(type, audience, version, issued, expires, expText, threshold = t, keys = keys, root = root)
            }
        }
    }

    /** SPEC §7.4, every mode: at most 366 days between issuedAt and expiresAt. */
    private fun checkLifetime(type: BundleType, issued: Long, expires: Long, o: Map<*, *>) {
        if (expires - issued <= MAX_LIFETIME_MS) return
        val msg = "payload .expiresAt: expected at most 366 days after issuedAt (${o["issuedAt"]}), " +
            "found ${o["expiresAt"]}"
        if (type == BundleType.KEYSET) throw KeysetError("keyset $msg (SPEC §7.4)")
        throw PayloadError("$msg (SPEC §7.4: a bundle claiming a longer life is refused)")
    }

    private fun root(v: Any?): RootSpec {
        val o = obj(v, ".root", listOf("keys", "threshold", "expiresAt"))
        val keys = keys(o["keys"], ".root.keys")
        val threshold = safeInteger(o["threshold"], ".root.threshold", 1)
        if (threshold > keys.size) fail(".root.threshold", "an integer from 1 to ${keys.size}", o["threshold"])
        return RootSpec(threshold.toInt(), keys, timestamp(o["expiresAt"], ".root.expiresAt"))
    }

    /** An RFC 3339 UTC timestamp, or PayloadError naming the member. */
    fun timestamp(v: Any?, path: String): Long {
        val s = string(v, path)
        return Codec.parseTime(s) ?: fail(path, "an RFC 3339 UTC timestamp such as 2026-11-22T12:00:00Z", v)
    }

    /** An integer from `min` to 2^53-1 (the range every JSON implementation reads exactly), or null. */
    fun safeIntegerOrNull(v: Any?, min: Long): Long? {
        val n = v as? BigDecimal ?: return null
        val i = try { n.toBigIntegerExact() } catch (e: ArithmeticException) { return null }
        if (i < BigDecimal(min).toBigInteger() || i > MAX_SAFE.toBigInteger()) return null
        return i.toLong()
    }

    fun isPinValue(v: String): Boolean = v.length == 44 && Codec.base64OrNull(v)?.size == 32

    private fun safeInteger(v: Any?, path: String, min: Long): Long =
        safeIntegerOrNull(v, min) ?: fail(path, "an integer from $min to 2^53-1", v)

    private fun fail(path: String, expected: String, found: Any?): Nothing {
        val shown = if (found is String && found.length > 60) "\"${found.take(60)}…\"" else describe(found)
        throw PayloadError("payload $path: expected $expected, found $shown")
    }

    private fun obj(v: Any?, path: String, keys: List<String>, optional: List<String> = emptyList()): Map<*, *> {
        val o = v as? Map<*, *> ?: fail(path, "an object", v)
        val allowed = keys + optional
        for (k in o.keys) {
            if (k !in allowed) fail("$path.$k", "no such member (allowed: ${allowed.joinToString(", ")})", o[k])
        }
        for (k in keys) if (!o.containsKey(k)) throw PayloadError("payload $path.$k: expected a value, found nothing")
        return o
    }

    private fun string(v: Any?, path: String): String {
        if (v !is String || v.isEmpty()) fail(path, "a non-empty string", v)
        return v
    }

    private fun array(v: Any?, path: String, min: Int, max: Int): List<*> {
        if (v !is List<*> || v.size < min || v.size > max) {
            fail(path, "an array of $min to $max entries", if (v is List<*>) "${v.size} entries" else v)
        }
        return v
    }

    private fun domains(v: Any?): List<PinsDomain> {
        val seen = HashSet<String>()
        return array(v, ".domains", 1, MAX_DOMAINS).mapIndexed { i, d ->
            val p = ".domains[$i]"
            val o = obj(d, p, listOf("domain", "includeSubdomains", "pins"))
            val domain = string(o["domain"], "$p.domain")
            if (domain.length > 253 || !isHostname(domain)) {
                fail("$p.domain", "a lower-case host name without wildcard or trailing dot", domain)
            }
            if (!seen.add(domain)) fail("$p.domain", "each domain once", domain)
            val inc = o["includeSubdomains"] as? Boolean ?: fail("$p.includeSubdomains", "true or false", o["includeSubdomains"])
            val pins = array(o["pins"], "$p.pins", 2, MAX_PINS_PER_DOMAIN).mapIndexed { j, pin ->
                if (pin !is String || !isPinValue(pin)) fail("$p.pins[$j]", "base64 of 32 bytes (44 characters)", pin)
                pin
            }
            val distinct = pins.toSet().size
            if (distinct < 2) fail("$p.pins", "at least two distinct pins (a backup)", "$distinct distinct")
            PinsDomain(domain, inc, pins)
        }
    }

    private fun roots(v: Any?): List<TrustRoot> {
        val seen = HashSet<String>()
        return array(v, ".roots", 1, MAX_ROOTS).mapIndexed { i, r ->
            val p = ".roots[$i]"
            val o = obj(r, p, listOf("name", "spkiSha256", "certificate"))
            val name = string(o["name"], "$p.name")
            val spki = string(o["spkiSha256"], "$p.spkiSha256")
            if (!isPinValue(spki)) fail("$p.spkiSha256", "base64 of 32 bytes", spki)
            val certB64 = string(o["certificate"], "$p.certificate")
            val der = Codec.base64OrNull(certB64) ?: fail("$p.certificate", "standard base64 of a DER certificate", certB64)
            val actual = Spki.pinOfCertificateDer(der) ?: fail("$p.certificate", "a DER X.509 certificate", "bytes that do not parse")
            if (actual != spki) fail("$p.spkiSha256", "the SPKI SHA-256 of its certificate ($actual)", spki)
            if (!seen.add(spki)) fail("$p.spkiSha256", "each root once", spki)
            TrustRoot(name, spki, certB64)
        }
    }

    private fun keys(v: Any?, path: String = ".keys"): List<KeysetKey> {
        val seen = HashSet<String>()
        return array(v, path, 1, MAX_KEYS).mapIndexed { i, k ->
            val p = "$path[$i]"
            val o = obj(k, p, listOf("keyid", "publicKey"))
            val keyid = string(o["keyid"], "$p.keyid")
            if (!HEX64.matches(keyid)) fail("$p.keyid", "64 lower-case hex characters", keyid)
            val pk = string(o["publicKey"], "$p.publicKey")
            val raw = Codec.base64OrNull(pk)
            if (raw == null || raw.size != 32) fail("$p.publicKey", "base64 of 32 bytes", pk)
            val expected = Ed25519Strict.keyIdOf(raw)
            if (keyid != expected) fail("$p.keyid", "the SHA-256 of its key ($expected)", keyid)
            if (!seen.add(keyid)) fail("$p.keyid", "each key once", keyid)
            KeysetKey(keyid, raw)
        }
    }
}
