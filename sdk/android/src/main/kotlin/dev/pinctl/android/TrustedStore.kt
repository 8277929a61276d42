package dev.pinctl.android

import java.math.BigDecimal

/** A bundle in force: its payload, the exact envelope bytes (persisted) and the payload bytes. */
class AppliedBundle(val type: BundleType, val payload: Payload, val envelope: ByteArray, val payloadBytes: ByteArray)

/**
 * The trust rules of docs/SPEC.md §4–5 on bytes already downloaded, the Kotlin twin of
 * src/bundle/trusted-store.ts: pure (no I/O; the clock is an argument).
 */
class TrustedStore(
    val audience: String,
    keyset: TrustedKeyset,
    val skewMs: Long = DEFAULT_SKEW_MS,
    val maxBytes: Int = DEFAULT_MAX_BYTES,
) {
    enum class Status { APPLIED, UNCHANGED }
    class Result(val status: Status, val bundle: AppliedBundle)

    @Volatile
    var keyset: TrustedKeyset = keyset
        private set
    private val applied = java.util.concurrent.ConcurrentHashMap<BundleType, AppliedBundle>()

    fun current(type: BundleType): AppliedBundle? = applied[type]

    /** SPEC §4 steps 1–9, then step 10's in-memory half (persisting is the caller's I/O). */
    fun verify(type: BundleType, bytes: ByteArray, nowMs: Long): Result {
        val env = checkEnvelope(type, bytes) // steps 1–3
        checkSignatures(env, keyset, "trusted") // step 4
        val header = Payloads.header(env.payload) // step 5
        if (header.type != type.wire) {
            throw PayloadError("payload .type: expected \"${type.wire}\" (the payloadType says so), found ${describe(header.type)}")
        }
        checkAudience(header.audience) // step 6
        val last = applied[type]
        if (last != null) { // step 7
            val v = header.version as? BigDecimal
            val lastVersion = BigDecimal(last.payload.version)
            if (v == null || v < lastVersion) {
                throw RollbackError("version ${header.version} is older than the applied version ${last.payload.version}")
            }
            if (v.compareTo(lastVersion) == 0) {
                if (env.payload.contentEquals(last.payloadBytes)) {
                    assertFresh(type, nowMs) // a freeze (the same bytes forever) still surfaces once expired
                    return Result(Status.UNCHANGED, last)
                }
                throw RollbackError("version $v was already applied with other content: a replayed or forged version number")
            }
        }
        val issued = Payloads.timestamp(header.issuedAt, ".issuedAt")
        checkFreshness(issued, Payloads.timestamp(header.expiresAt, ".expiresAt"), nowMs) // step 8
        checkKeysetFresh(nowMs) // SPEC §5.7: rotation may pass through expired keysets, bundles may not
        val payload = Payloads.decodeDocument(header.document, type) // step 9
        val bundle = AppliedBundle(type, payload, bytes, env.payload)
        applied[type] = bundle
        return Result(Status.APPLIED, bundle)
    }

    /** A stored last good bundle at start-up: steps 2–6 and 9 again, not freshness (SPEC §4, last paragraph). */
    fun restore(type: BundleType, bytes: ByteArray): AppliedBundle {
        val env = checkEnvelope(type, bytes)
        checkSignatures(env, keyset, "trusted")
        val payload = Payloads.decode(env.payload, type)
        checkAudience(payload.audience)
        return AppliedBundle(type, payload, bytes, env.payload).also { applied[type] = it }
    }

    /** SPEC §4.7–4.8 for a refresh that brought nothing new (same bytes, or HTTP 304). */
    fun assertFresh(type: BundleType, nowMs: Long) {
        val cur = applied[type] ?: return
        checkFreshness(cur.payload.issuedAt, cur.payload.expiresAt, nowMs)
        checkKeysetFresh(nowMs)
    }

    /** SPEC §5 steps 2–6: one rotation to exactly version v+1, signed by the old and the new keys. */
    fun rotate(bytes: ByteArray): Payload {
        val env = checkEnvelope(BundleType.KEYSET, bytes)
        checkSignatures(env, keyset, "currently trusted") // §5.2
        val next = Payloads.decode(env.payload, BundleType.KEYSET) // §5.3
        checkAudience(next.audience)
        if (next.version != keyset.version + 1) {
            throw KeysetError("keyset version ${next.version}: expected exactly ${keyset.version + 1} (one rotation at a time)")
        }
        val keys = LinkedHashMap<String, ByteArray>()
        for (k in next.keys) { // §5.4
            Ed25519Strict.checkPublicKey(k.publicKey)?.let {
                throw KeysetError("keyset version ${next.version}: key ${k.keyid} is unsafe: $it")
            }
            keys[k.keyid] = k.publicKey
        }
        val candidate = TrustedKeyset(next.version, next.threshold, keys, next.expiresAt)
        checkSignatures(env, candidate, "new keyset") // §5.5
        keyset = candidate // §5.6
        return next
    }

    /** Steps 1–3. */
    private fun checkEnvelope(type: BundleType, bytes: ByteArray): Envelope {
        if (bytes.size > maxBytes) throw TooLargeError("bundle of ${bytes.size} bytes exceeds the $maxBytes-byte limit")
        val env = Envelope.parse(bytes)
        if (env.payloadType != type.payloadType) {
            val other = BundleType.ofPayloadType(env.payloadType)
            val found = if (other != null) "a ${other.wire} bundle" else "\"${env.payloadType}\""
            throw PayloadTypeError("expected payloadType ${type.payloadType}, found $found")
        }
        return env
    }

    private fun checkSignatures(env: Envelope, ks: TrustedKeyset, which: String) {
        val signed = Keys.signingKeys(env, ks)
        if (signed.size < ks.threshold) {
            throw SignatureError(
                "expected valid signatures by ${ks.threshold} of the $which key(s) " +
                    "(${ks.keys.keys.joinToString(", ") { it.take(16) }}), found ${signed.size}",
                "the bundle was altered, or signed by a key this client does not trust",
            )
        }
    }

    private fun checkAudience(a: Any?) {
        if (a != audience) throw AudienceError("expected audience \"$audience\", found ${describe(a)}")
    }

    private fun checkKeysetFresh(nowMs: Long) {
        val exp = keyset.expiresAt ?: return
        if (exp + skewMs <= nowMs) {
            val v = keyset.version
            throw ExpiredError(
                "the trusted keyset version $v expired at ${Codec.formatTime(exp)}; bundles are refused until keyset ${v + 1} is published",
            )
        }
    }

    private fun checkFreshness(issuedAt: Long, expiresAt: Long, nowMs: Long) {
        if (expiresAt + skewMs <= nowMs) throw ExpiredError("bundle expired at ${Codec.formatTime(expiresAt)}")
        if (issuedAt - skewMs > nowMs) {
            throw NotYetValidError("bundle is issued in the future (${Codec.formatTime(issuedAt)}); check the clock")
        }
    }

    companion object {
        const val DEFAULT_SKEW_MS = 5 * 60_000L
        const val DEFAULT_MAX_BYTES = 1024 * 1024
        /** SPEC §5.7 */
        const val MAX_ROTATIONS = 8
    }
}
