package dev.pinctl.android

import okhttp3.OkHttpClient
import java.io.File
import javax.net.ssl.X509TrustManager

/** What an expired bundle means (the Node SDK's stalePolicy). */
enum class StalePolicy {
    /** The last good pins stay enforced for graceMs after expiresAt, then platform trust only. */
    ENFORCE_LAST_GOOD,

    /** Platform trust only as soon as the bundle expired. */
    FAIL_OPEN,
}

/** A PinctlClient's settings; the defaults are the Node SDK's (src/sdk/README.md). */
data class Config(
    /** Service base URL (`https://pins.example.com` or a static-hosting prefix); a trailing `/v1/bundles/pins` is trimmed. */
    val url: String,
    /** SPEC 1.0: the app's embedded signing keys, PEM `PUBLIC KEY` or base64 of 32 bytes (keyset version 0). */
    val publicKeys: List<String> = emptyList(),
    val audience: String,
    /** Last good bundles and the keyset chain (Android: `File(context.filesDir, "pinctl")`). One client per directory. */
    val storageDir: File,
    /** Pins shipped with the app, in force until a bundle is applied. */
    val baseline: Map<String, BaselineDomain> = emptyMap(),
    /** Deadline of each download, connect to last byte. */
    val timeoutMs: Long = 10_000,
    /** Response cap, enforced while reading (SPEC §4.1). */
    val maxBytes: Int = TrustedStore.DEFAULT_MAX_BYTES,
    val stalePolicy: StalePolicy = StalePolicy.ENFORCE_LAST_GOOD,
    /** ENFORCE_LAST_GOOD: how long after expiresAt the last good pins stay enforced. */
    val graceMs: Long = 30L * 24 * 60 * 60_000,
    /** Clock tolerance of SPEC §4.8. */
    val skewMs: Long = TrustedStore.DEFAULT_SKEW_MS,
    /** Evaluate and report pin failures, but let the connections through. */
    val reportOnly: Boolean = false,
    /** POST failure reports to `${url}/v1/reports`. */
    val reports: Boolean = false,
    /** POST failure reports to this URL instead. */
    val reportUri: String? = null,
    /** Called with every report (also when POSTing is off). */
    val onReport: ((PinReport) -> Unit)? = null,
    /** The trust the platform gives (default: the system's TrustManagerFactory). */
    val platformTrustManager: X509TrustManager? = null,
    /** Base client for downloads and reports (proxy, DNS, TLS to the service). Never the pinned one. */
    val httpClient: OkHttpClient? = null,
    /** SPEC §7 (roles mode, in place of publicKeys): the offline root keys, which sign only keysets. */
    val rootKeys: List<String> = emptyList(),
    /** Distinct root keys that must sign a keyset (roles mode), or embedded keys that must sign a bundle. */
    val threshold: Int = 1,
    /** Roles mode, required: when the embedded root role expires, `YYYY-MM-DD` or RFC 3339 (SPEC §7.5). */
    val trustExpires: String? = null,
    /** Milliseconds since the epoch; for tests. */
    val clock: () -> Long = { System.currentTimeMillis() },
)

/** What refresh() did: pins "applied"/"unchanged", trust roots also "none" (the service has none). */
data class RefreshResult(val pins: String, val trustRoots: String, val version: Long, val keysetVersion: Long)

/** fresh: before expiresAt (+ skew); grace: expired but still enforced; lapsed: not enforced. */
data class BundleStatus(val version: Long, val expiresAt: String, val phase: String)

data class ClientStatus(
    val pins: BundleStatus?,
    val trustRoots: BundleStatus?,
    val keysetVersion: Long,
    /** Stored files that failed re-verification at start-up. */
    val restoreErrors: List<String>,
)
