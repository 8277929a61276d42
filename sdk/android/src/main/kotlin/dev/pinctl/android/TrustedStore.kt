package dev.pinctl.android

import java.math.BigDecimal

/** A bundle in force: its payload, the exact envelope bytes (persisted) and the payload bytes. */
class AppliedBundle(val type: BundleType, val payload: Payload, val envelope: ByteArray, val payloadBytes: ByteArray)

/** What a keyset rotation did: the new keyset, and the applied bundles recovery dropped (SPEC §7.6). */
class Rotation(val keyset: Payload, val dropped: List<AppliedBundle>)

/**
 * The trust rules of docs/SPEC.md §4–5 and §7 on bytes already downloaded, the Kotlin twin of
 * src/bundle/trusted-store.ts: pure (no I/O; the clock is an argument). With a `root` role it is in
 * roles mode (SPEC §7): the root keys sign only keysets, the newest keyset's keys sign bundles.
 */
class TrustedStore(
    val audience: String,
    keyset: TrustedKeyset,
    val skewMs: Long = DEFAULT_SKEW_MS,
    val maxBytes: Int = DEFAULT_MAX_BYTES,
    root: TrustedKeyset? = null,
) {
    enum class Status { APPLIED, UNCHANGED }
    class Result(val status: Status, val bundle: AppliedBundle)

    @Volatile
    var keyset: TrustedKeyset = keyset
        private set

    /** SPEC §7.1: the root role (keys, threshold, expiry); null in SPEC 1.0 keys mode. */
    @Volatile
    var root: TrustedKeyset? = root
        private set
    private val applied = java.util.concurrent.ConcurrentHashMap<BundleType, AppliedBundle>()

    fun current(type: BundleType): AppliedBundle? = applied[type]

    /** SPEC §4 steps 1–9, then step 10's in-memory half (persisting is the caller's I/O). */
    fun verify(type: BundleType, bytes: ByteArray, nowMs: Long): Result {
        checkTrust(nowMs) // SPEC §7.5
        val env = checkEnvelope(type, bytes) // steps 1–3
        checkSignatures(env, keyset, "trusted") // step 4
        val header = Payloads.header(env.payload, type) // step 5
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
        val payload = header.decoded ?: Payloads.decodeDocument(header.document, type) // step 9
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
        checkTrust(nowMs)
        val cur = applied[type] ?: return
        checkFreshness(cur.payload.issuedAt, cur.payload.expiresAt, nowMs)
        checkKeysetFresh(nowMs)
    }

    /**
     * One rotation to exactly version v+1: SPEC §5 steps 2–6 (old and new keys sign), or §7.3 in
     * roles mode (the root threshold signs; then recovery, §7.6). `nowMs` null replays a stored
     * chain at start-up, where the root role's expiry is not checked (the last good state stays).
     */
    fun rotate(bytes: ByteArray, nowMs: Long? = null): Rotation {
        val root = this.root
        if (root != null && nowMs != null) checkTrust(nowMs)
        val env = checkEnvelope(BundleType.KEYSET, bytes)
        checkSignatures(env, root ?: keyset, if (root != null) "root" else "currently trusted") // §5.2, §7.3.2
        val next = Payloads.decode(env.payload, BundleType.KEYSET) // §5.3
        checkAudience(next.audience)
        if (next.version != keyset.version + 1) {
            throw KeysetError("keyset version ${next.version}: expected exactly ${keyset.version + 1} (one rotation at a time)")
        }
        val signing = safeKeys(next.keys, next.version, "key")
        val candidate = TrustedKeyset(next.version, next.threshold, signing, next.expiresAt)
        if (root == null) {
            checkSignatures(env, candidate, "new keyset") // §5.5
            keyset = candidate // §5.6
            return Rotation(next, emptyList())
        }
        val newRoot = next.root?.let {
            TrustedKeyset(0, it.threshold, safeKeys(it.keys, next.version, "root key"), it.expiresAt)
        }
        for (r in listOfNotNull(root, newRoot)) { // §7.2: an online key is never an offline one
            candidate.keys.keys.firstOrNull { it in r.keys }?.let {
                throw KeysetError(
                    "keyset version ${next.version} names root key $it as a signing key; root keys sign only keysets",
                )
            }
        }
        if (newRoot != null) checkSignatures(env, newRoot, "new root") // §7.3.4
        keyset = candidate
        if (newRoot != null) this.root = newRoot
        return Rotation(next, recover())
    }

    /** §2.2–2.3 on every key a keyset names. */
    private fun safeKeys(keys: List<KeysetKey>, version: Long, what: String): Map<String, ByteArray> {
        val out = LinkedHashMap<String, ByteArray>()
        for (k in keys) {
            Ed25519Strict.checkPublicKey(k.publicKey)?.let {
                throw KeysetError("keyset version $version: $what ${k.keyid} is unsafe: $it")
            }
            out[k.keyid] = k.publicKey
        }
        return out
    }

    /**
     * SPEC §7.6: every applied bundle is checked again (step 4) under the new keyset; one a removed
     * key signed is dropped, and with it the rollback floor of its type (the attacker's 2^53-1).
     */
    private fun recover(): List<AppliedBundle> {
        val dropped = ArrayList<AppliedBundle>()
        for ((type, b) in applied) {
            if (Keys.signingKeys(Envelope.parse(b.envelope), keyset).size >= keyset.threshold) continue
            applied.remove(type, b)
            dropped += b
        }
        return dropped
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
        if (ks.keys.isEmpty()) { // SPEC §7.2: roles mode before the first keyset
            throw SignatureError(
                "no signing keys are trusted yet: expected keyset 1, signed by the root keys, before any bundle",
                "publish a keyset signed by the root keys (GET /v1/keyset/1); root keys never sign bundles",
            )
        }
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

    /** SPEC §7.5: an expired root role freezes the client (typed error, not a silent refusal). */
    private fun checkTrust(nowMs: Long) {
        val exp = root?.expiresAt ?: return
        if (exp + skewMs <= nowMs) {
            throw TrustExpiredError(
                "the root role expired at ${Codec.formatTime(exp)}; new keysets and bundles are refused " +
                    "(the last good bundles stay subject to the stale policy)",
            )
        }
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

        /** SPEC §7: roles mode; no signing keys until keyset 1 (signed by the root) is trusted. */
        fun roles(
            audience: String,
            root: TrustedKeyset,
            skewMs: Long = DEFAULT_SKEW_MS,
            maxBytes: Int = DEFAULT_MAX_BYTES,
        ) = TrustedStore(audience, TrustedKeyset(0, 1, emptyMap()), skewMs, maxBytes, root)
    }
}
