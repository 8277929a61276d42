package dev.pinctl.android

import okhttp3.ConnectionPool
import okhttp3.HttpUrl
import okhttp3.HttpUrl.Companion.toHttpUrlOrNull
import okhttp3.OkHttpClient
import java.io.IOException
import java.lang.ref.WeakReference
import java.security.KeyStore
import java.security.cert.X509Certificate
import java.util.concurrent.CopyOnWriteArrayList
import javax.net.ssl.HostnameVerifier
import javax.net.ssl.SSLContext
import javax.net.ssl.SSLSocketFactory
import javax.net.ssl.TrustManagerFactory
import javax.net.ssl.X509TrustManager

/**
 * Downloads signed bundles, has TrustedStore verify them (every trust rule lives there), keeps the
 * last good ones on disk and enforces them on TLS connections: the Kotlin twin of the Node SDK's
 * PinClient (src/sdk/client.ts), same storage files, same report JSON, same error classes.
 */
class PinctlClient(val config: Config) {
    /** The normalised service base URL, without a trailing slash. */
    val url: String = serviceBase(config.url)
    private val store: TrustedStore
    private val storage: BundleStorage
    private val downloader: Downloader
    private val reporter: Reporter
    private val baseline: PinTable = PinTable.ofBaseline(config.baseline)
    private val etags = HashMap<BundleType, String>()
    private val unsaved = LinkedHashMap<String, ByteArray>()
    private val restoreErrors = mutableListOf<String>()
    private val pools = CopyOnWriteArrayList<WeakReference<ConnectionPool>>()
    private val lapsedReported = HashSet<String>()
    @Volatile private var table: Pair<AppliedBundle, PinTable>? = null
    @Volatile private var rootSet: Pair<AppliedBundle, Set<String>>? = null
    internal val platformTrust: X509TrustManager = config.platformTrustManager ?: systemTrustManager()
    internal val scheduler = RefreshScheduler(this)

    /** Changes whenever the pins or trust roots in force change. */
    @Volatile internal var generation = 0L
        private set

    init {
        if (config.audience.isEmpty()) throw ConfigError("audience: expected a non-empty string")
        if (config.timeoutMs < 1) throw ConfigError("timeoutMs: expected a number ≥ 1")
        if (config.maxBytes < 1) throw ConfigError("maxBytes: expected a number ≥ 1")
        if (config.graceMs < 0) throw ConfigError("graceMs: expected a number ≥ 0")
        store = trustedStore(config)
        storage = BundleStorage(config.storageDir, config.maxBytes)
        val base = config.httpClient ?: OkHttpClient()
        downloader = Downloader(base, config.timeoutMs, config.maxBytes)
        val reportUri = config.reportUri?.let {
            it.toHttpUrlOrNull() ?: throw ConfigError("reportUri: expected an http(s) URL, found \"$it\"")
        }
            ?: if (config.reports) "$url/v1/reports".toHttpUrlOrNull() else null
        reporter = Reporter(reportUri, config.onReport, config.clock, downloader.http)
        restore()
    }

    /** The applied pins version; 0 before any bundle. */
    val version: Long get() = store.current(BundleType.PINS)?.payload?.version ?: 0

    /**
     * Keyset rotation (SPEC §5), then pins, then trust roots (§4). Throws the typed error of the
     * first failure (a PinctlException subclass), keeping the last good bundle in force.
     */
    @Synchronized
    fun refresh(): RefreshResult {
        try { flush() } catch (e: StorageError) { /* retried now; a new failure surfaces below */ }
        try {
            rotate()
            // A type recovery dropped (SPEC §7.6) has no bundle now: fetched again here, in the same refresh.
            val pins = fetchBundle(BundleType.PINS)
            val roots = fetchBundle(BundleType.TRUST_ROOTS)
            return RefreshResult(pins, roots, version, store.keyset.version)
        } catch (e: TrustExpiredError) {
            reportTrustExpired()
            throw e
        }
    }

    /** The base64 pins that apply to `host` now; empty when it is not pinned. */
    fun pinsFor(host: String): List<String> {
        val t = config.clock()
        val rule = activePins(t)?.lookup(host) ?: return emptyList()
        if (rule.expiresAt != null && t >= rule.expiresAt) return emptyList()
        return rule.pins
    }

    /**
     * Enforces the pins and trust roots in force on every connection of the client built from
     * `builder`: a pinning trust manager (platform trust first), a network interceptor that checks
     * pooled connections again after a bundle change, and a connection pool emptied of idle
     * connections whenever the pins in force change.
     */
    fun applyTo(builder: OkHttpClient.Builder): OkHttpClient.Builder {
        val tm = trustManager()
        val pool = ConnectionPool()
        pools += WeakReference(pool)
        return builder
            .sslSocketFactory(sslSocketFactory(tm), tm)
            .addNetworkInterceptor(PinningInterceptor(this, tm))
            .connectionPool(pool)
    }

    /** For HttpURLConnection: `conn.sslSocketFactory = client.sslSocketFactory()`, with hostnameVerifier(). */
    fun trustManager(): PinningTrustManager = PinningTrustManager(this, platformTrust)

    fun sslSocketFactory(tm: PinningTrustManager = trustManager()): SSLSocketFactory =
        SSLContext.getInstance("TLS").apply { init(null, arrayOf(tm), null) }.socketFactory

    fun hostnameVerifier(tm: PinningTrustManager = trustManager()): HostnameVerifier = PinningHostnameVerifier(tm)

    /**
     * Refreshes every `intervalMs` on a daemon thread (and at most once a minute after a pinning
     * failure, in case the server's keys changed and a new bundle is out). close() stops it.
     */
    fun startPeriodicRefresh(intervalMs: Long): AutoCloseable = scheduler.start(intervalMs)

    fun status(): ClientStatus {
        val t = config.clock()
        fun of(b: AppliedBundle?) = b?.let { BundleStatus(it.payload.version, it.payload.expiresAtText, phase(it, t)) }
        val pins = of(store.current(BundleType.PINS))
        return ClientStatus(pins, of(store.current(BundleType.TRUST_ROOTS)), store.keyset.version, restoreErrors.toList())
    }

    /**
     * SPEC §3.1 then §3.2 on a verified chain (leaf first); null when the connection may proceed.
     * A failure is reported; in report-only mode it is not enforced.
     */
    internal fun check(host: String?, port: Int, chain: List<X509Certificate>, platformPins: Set<String>): PinningError? {
        val expected = host?.let { pinsFor(it) } ?: emptyList()
        val roots = trustRootPins(config.clock())
        if (expected.isEmpty() && roots == null) return null
        val chainPins = chain.map(Spki::pinOf)
        val error = when {
            expected.isNotEmpty() && chainPins.none { it in expected } ->
                PinningError(host ?: "", port, "pin-mismatch", chainPins, expected)
            // The anchor is a key: a cross-signed copy of a trusted root carries the same SPKI.
            roots != null && chainPins.none { it in roots && it in platformPins } ->
                PinningError(host ?: "", port, "untrusted-root", chainPins, roots.toList())
            else -> return null
        }
        val bundle = info(store.current(BundleType.PINS))
        report(PinReport(error.reason, config.audience, now(), host, port, chainPins, error.expectedPins, bundle))
        scheduler.onPinningFailure()
        return if (config.reportOnly) null else error
    }

    private fun now() = Codec.formatTime(config.clock())

    private fun report(r: PinReport) = reporter.send(r)

    /** SPEC §5: follow keysets v+1, v+2, ... until 404 (or 403/410), at most 8 per refresh. */
    private fun rotate() {
        repeat(TrustedStore.MAX_ROTATIONS) {
            val next = store.keyset.version + 1
            when (val r = downloader.get(path("/v1/keyset/$next"), null, setOf(403, 404, 410))) {
                is Download.Body -> {
                    val rotation = store.rotate(r.bytes, config.clock())
                    for (b in rotation.dropped) drop(b) // SPEC §7.6, before the keyset is persisted
                    persist("keyset-$next", r.bytes)
                }
                else -> return
            }
        }
    }

    private fun fetchBundle(type: BundleType): String {
        val current = store.current(type)
        val p = if (type == BundleType.PINS) "/v1/bundles/pins" else "/v1/bundles/trust-roots"
        when (val r = downloader.get(path(p), if (current != null) etags[type] else null)) {
            is Download.NotModified -> {
                if (current == null) throw FetchError("GET $url$p: 304 Not Modified, but no ${type.wire} bundle is applied")
                store.assertFresh(type, config.clock()) // a 304 forever is a freeze: report it once stale
                return "unchanged"
            }
            // A 404 never removes an applied bundle: on plain http anyone on the path can forge one.
            is Download.NotFound -> {
                if (current != null && current.payload.expiresAt + store.skewMs <= config.clock()) { // SPEC §7.5
                    throw ExpiredError(
                        "GET $url$p: HTTP 404 or 410, and the applied ${type.wire} bundle version " +
                            "${current.payload.version} expired at ${current.payload.expiresAtText}: " +
                            "it is no longer served",
                    )
                }
                if (type == BundleType.TRUST_ROOTS) return if (current != null) "unchanged" else "none"
                throw FetchError("GET $url$p: HTTP 404, no pins bundle is published")
            }
            is Download.Body -> {
                val result = store.verify(type, r.bytes, config.clock())
                if (r.etag != null) etags[type] = r.etag else etags.remove(type)
                if (result.status == TrustedStore.Status.UNCHANGED) return "unchanged"
                changed()
                persist(type.wire, r.bytes)
                return "applied"
            }
        }
    }

    /**
     * SPEC §7.6: a bundle signed by a key the rotation removed is no longer in force (baseline pins
     * apply until the next bundle), its file is deleted, and its type's rollback floor is gone.
     */
    private fun drop(b: AppliedBundle) {
        etags.remove(b.type)
        synchronized(unsaved) { unsaved.remove(b.type.wire) }
        // A file left by a failed delete is refused at restart anyway: restore uses the newest keyset.
        storage.delete(b.type.wire)
        changed()
    }

    /** SPEC §7.5: a frozen client says so, once per root role. */
    private fun reportTrustExpired() {
        val exp = store.root?.expiresAt ?: return
        val first = synchronized(lapsedReported) { lapsedReported.add("trust-expired:$exp") }
        if (!first) return
        report(PinReport("trust-expired", config.audience, now(), bundle = info(store.current(BundleType.PINS))))
    }

    private fun path(p: String): HttpUrl = "$url$p".toHttpUrlOrNull() ?: throw ConfigError("url: cannot append $p to $url")

    private fun persist(name: String, bytes: ByteArray) {
        synchronized(unsaved) { unsaved[name] = bytes }
        flush()
    }

    private fun flush() = synchronized(unsaved) {
        val it = unsaved.entries.iterator()
        while (it.hasNext()) {
            val (name, bytes) = it.next()
            try {
                storage.write(name, bytes)
                it.remove()
            } catch (e: IOException) {
                throw StorageError("could not save $name in ${storage.dir}: ${e.message}; it is in force until restart only", e)
            }
        }
    }

    /**
     * Start-up: replay the stored keyset chain from the embedded keys and restore each stored bundle.
     * SPEC 1.0: under the first keyset of that chain that verifies it (the one in force when it was
     * applied). Roles mode (§7.6): under the newest keyset only, so a dropped bundle never comes back.
     */
    private fun restore() {
        val pending = LinkedHashMap<BundleType, ByteArray>()
        val errors = HashMap<BundleType, Exception>()
        for (type in listOf(BundleType.PINS, BundleType.TRUST_ROOTS)) {
            try {
                storage.read(type.wire)?.let { pending[type] = it }
            } catch (e: IOException) {
                restoreErrors += "${type.wire}: ${e.message}"
            }
        }
        val roles = store.root != null
        fun attempt() {
            val it = pending.entries.iterator()
            while (it.hasNext()) {
                val (type, bytes) = it.next()
                try {
                    store.restore(type, bytes)
                    it.remove()
                } catch (e: PinctlException) {
                    errors[type] = e
                }
            }
        }
        if (!roles) attempt()
        var v = 1
        while (true) {
            try {
                val bytes = storage.read("keyset-$v") ?: break
                store.rotate(bytes)
            } catch (e: PinctlException) {
                restoreErrors += "keyset-$v: ${e.message}"
                break
            } catch (e: IOException) {
                restoreErrors += "keyset-$v: ${e.message}"
                break
            }
            if (!roles) attempt()
            v++
        }
        if (roles) attempt()
        for (type in pending.keys) restoreErrors += "${type.wire}: ${errors[type]?.message}"
    }

    private fun phase(b: AppliedBundle, t: Long): String = when {
        t < b.payload.expiresAt + store.skewMs -> "fresh"
        config.stalePolicy == StalePolicy.ENFORCE_LAST_GOOD && t < b.payload.expiresAt + config.graceMs -> "grace"
        else -> "lapsed"
    }

    private fun activePins(t: Long): PinTable? {
        val b = store.current(BundleType.PINS) ?: return baseline
        if (phase(b, t) == "lapsed") return lapsed(b)
        table?.let { (bundle, pins) -> if (bundle === b) return pins }
        return PinTable.ofBundle(b.payload.domains).also { table = b to it }
    }

    private fun trustRootPins(t: Long): Set<String>? {
        val b = store.current(BundleType.TRUST_ROOTS) ?: return null
        if (phase(b, t) == "lapsed") return lapsed(b)
        rootSet?.let { (bundle, roots) -> if (bundle === b) return roots }
        return b.payload.roots.map { it.spkiSha256 }.toSet().also { rootSet = b to it }
    }

    /** Falling back to platform trust is reported once per bundle version. */
    private fun <T> lapsed(b: AppliedBundle): T? {
        val first = synchronized(lapsedReported) { lapsedReported.add("${b.type.wire}:${b.payload.version}") }
        if (first) report(PinReport("stale-bundle", config.audience, now(), bundle = info(b)))
        return null
    }

    private fun changed() {
        generation++
        for (ref in pools) {
            val pool = ref.get()
            if (pool != null) pool.evictAll() else pools.remove(ref)
        }
    }

    private fun info(b: AppliedBundle?) = b?.let { ReportBundle(it.type.wire, it.payload.version, it.payload.expiresAtText) }

    companion object {
        /** SPEC 1.0 keys mode (`publicKeys`) or §7 roles mode (`rootKeys`): exactly one of the two. */
        internal fun trustedStore(c: Config): TrustedStore {
            if (c.publicKeys.isNotEmpty() == c.rootKeys.isNotEmpty()) {
                throw ConfigError(
                    "expected exactly one of publicKeys (SPEC 1.0) and rootKeys (SPEC §7 roles), found " +
                        if (c.rootKeys.isEmpty()) "neither" else "both",
                )
            }
            if (c.publicKeys.isNotEmpty()) {
                if (c.trustExpires != null) throw ConfigError("trustExpires: only with rootKeys (roles mode)")
                val keys = Keys.embedded(c.publicKeys)
                if (c.threshold < 1 || c.threshold > keys.keys.size) {
                    throw ConfigError(
                        "threshold: expected an integer from 1 to ${keys.keys.size} (the distinct publicKeys), " +
                            "found ${c.threshold}",
                    )
                }
                return TrustedStore(c.audience, TrustedKeyset(0, c.threshold, keys.keys), c.skewMs, c.maxBytes)
            }
            val text = c.trustExpires
                ?: throw ConfigError(
                    "trustExpires: expected the date the root keys stop being trusted (YYYY-MM-DD), found nothing",
                )
            val expires = Codec.parseTime(if (DATE.matches(text)) "${text}T00:00:00Z" else text)
                ?: throw ConfigError("trustExpires: expected YYYY-MM-DD or an RFC 3339 UTC timestamp, found \"$text\"")
            return TrustedStore.roles(c.audience, Keys.rootRole(c.rootKeys, c.threshold, expires), c.skewMs, c.maxBytes)
        }

        private val DATE = Regex("^\\d{4}-\\d{2}-\\d{2}$")

        /** The service base: query and fragment dropped, a trailing `/v1/bundles/pins` tolerated. */
        fun serviceBase(url: String): String {
            val u = url.toHttpUrlOrNull() ?: throw ConfigError("url: expected an http(s) URL, found \"$url\"")
            val s = u.newBuilder().query(null).fragment(null).build().toString()
            return s.trimEnd('/').removeSuffix("/v1/bundles/pins").trimEnd('/')
        }

        fun systemTrustManager(): X509TrustManager {
            val f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm())
            f.init(null as KeyStore?)
            return f.trustManagers.filterIsInstance<X509TrustManager>().first()
        }
    }
}
