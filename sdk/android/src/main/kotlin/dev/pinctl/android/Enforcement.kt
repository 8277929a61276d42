package dev.pinctl.android

import okhttp3.Interceptor
import okhttp3.Response
import okhttp3.internal.tls.OkHostnameVerifier
import java.net.Socket
import java.security.cert.CertificateException
import java.security.cert.X509Certificate
import java.util.WeakHashMap
import javax.net.ssl.HostnameVerifier
import javax.net.ssl.SSLEngine
import javax.net.ssl.SSLPeerUnverifiedException
import javax.net.ssl.SSLSession
import javax.net.ssl.SSLSocket
import javax.net.ssl.X509ExtendedTrustManager
import javax.net.ssl.X509TrustManager
import javax.security.auth.x500.X500Principal

/** A pinning failure at the handshake, as a trust manager must report it. */
class PinningCertificateException(val error: PinningError) : CertificateException(error.message, error)

/** A pinning failure on a pooled connection, as an OkHttp interceptor must report it (an IOException). */
class PinningPeerException(val error: PinningError) : SSLPeerUnverifiedException(error.message) {
    init { initCause(error) }
}

/** The PinningError behind an exception from OkHttp or HttpURLConnection, if a pin check caused it. */
fun pinningErrorOf(e: Throwable?): PinningError? {
    var t = e
    var depth = 0
    while (t != null && depth++ < 16) {
        if (t is PinningError) return t
        t = t.cause
    }
    return null
}

/**
 * The verified chain from the served certificates: from the leaf, each next link is a certificate
 * whose subject is the issuer AND whose key signed the link, up to a trust anchor. A served decoy
 * carrying a pinned key cannot satisfy a pin (it signed nothing), as OkHttp's chain cleaner does.
 */
internal class ChainBuilder(private val anchors: () -> Array<X509Certificate>) {
    private val index: Map<X500Principal, List<X509Certificate>> by lazy { anchors().groupBy { it.subjectX500Principal } }
    val anchorPins: Set<String> by lazy { anchors().map(Spki::pinOf).toSet() }

    fun verified(served: List<X509Certificate>): List<X509Certificate> {
        if (served.isEmpty()) return served
        val out = mutableListOf(served[0])
        val pool = served.drop(1).toMutableList()
        var cur = served[0]
        while (out.size < MAX_CHAIN) {
            val anchor = index[cur.issuerX500Principal]?.firstOrNull { signed(cur, it) }
            if (anchor != null) {
                if (anchor.encoded.contentEquals(cur.encoded).not()) out += anchor
                break
            }
            val next = pool.firstOrNull { it.subjectX500Principal == cur.issuerX500Principal && signed(cur, it) } ?: break
            pool.remove(next)
            out += next
            cur = next
        }
        return out
    }

    private fun signed(child: X509Certificate, issuer: X509Certificate): Boolean = try {
        child.verify(issuer.publicKey)
        true
    } catch (e: Exception) {
        false
    }

    companion object {
        const val MAX_CHAIN = 16
    }
}

/**
 * Platform trust AND the pins / trust roots in force (SPEC §3.1, §3.2). The platform trust
 * manager decides first; then the verified chain must hold a pinned key of the host, and, while a
 * trust-root bundle is in force, a certificate whose SPKI is both listed and platform-trusted.
 */
class PinningTrustManager internal constructor(
    private val client: PinctlClient,
    private val platform: X509TrustManager,
) : X509ExtendedTrustManager() {
    internal val chains = ChainBuilder { platform.acceptedIssuers }

    override fun checkServerTrusted(chain: Array<X509Certificate>, authType: String, socket: Socket?) {
        if (platform is X509ExtendedTrustManager) platform.checkServerTrusted(chain, authType, socket)
        else platform.checkServerTrusted(chain, authType)
        val session = (socket as? SSLSocket)?.handshakeSession
        enforce(session?.peerHost, session?.peerPort ?: socket?.port ?: 443, chain)
    }

    override fun checkServerTrusted(chain: Array<X509Certificate>, authType: String, engine: SSLEngine?) {
        if (platform is X509ExtendedTrustManager) platform.checkServerTrusted(chain, authType, engine)
        else platform.checkServerTrusted(chain, authType)
        enforce(engine?.peerHost, engine?.peerPort ?: 443, chain)
    }

    override fun checkServerTrusted(chain: Array<X509Certificate>, authType: String) {
        platform.checkServerTrusted(chain, authType)
        enforce(null, 443, chain)
    }

    override fun checkClientTrusted(chain: Array<X509Certificate>, authType: String, socket: Socket?) =
        if (platform is X509ExtendedTrustManager) platform.checkClientTrusted(chain, authType, socket)
        else platform.checkClientTrusted(chain, authType)

    override fun checkClientTrusted(chain: Array<X509Certificate>, authType: String, engine: SSLEngine?) =
        if (platform is X509ExtendedTrustManager) platform.checkClientTrusted(chain, authType, engine)
        else platform.checkClientTrusted(chain, authType)

    override fun checkClientTrusted(chain: Array<X509Certificate>, authType: String) = platform.checkClientTrusted(chain, authType)

    override fun getAcceptedIssuers(): Array<X509Certificate> = platform.acceptedIssuers

    /** host null: pins cannot be looked up (no SNI host known); trust roots still apply. */
    private fun enforce(host: String?, port: Int, chain: Array<X509Certificate>) {
        val error = client.check(host, port, chains.verified(chain.toList()), chains.anchorPins)
        if (error != null) throw PinningCertificateException(error)
    }

    /** The same check on an established session (pooled connections, HostnameVerifier). */
    internal fun checkSession(host: String, port: Int, peer: List<X509Certificate>): PinningError? =
        client.check(host, port, chains.verified(peer), chains.anchorPins)
}

/**
 * Runs the check again on every request's connection when the pins in force changed since it was
 * checked (a pooled connection made under pins a newer bundle removed is not used), once per
 * connection, host and generation.
 */
internal class PinningInterceptor(private val client: PinctlClient, private val tm: PinningTrustManager) : Interceptor {
    private val checked = WeakHashMap<Any, MutableMap<String, Long>>()

    override fun intercept(chain: Interceptor.Chain): Response {
        val connection = chain.connection()
        val handshake = connection?.handshake()
        if (connection != null && handshake != null) {
            val url = chain.request().url
            val generation = client.generation
            val seen = synchronized(checked) { checked[connection]?.get(url.host) }
            if (seen != generation) {
                val peer = handshake.peerCertificates.filterIsInstance<X509Certificate>()
                tm.checkSession(url.host, url.port, peer)?.let { throw PinningPeerException(it) }
                synchronized(checked) { checked.getOrPut(connection) { HashMap() }[url.host] = generation }
            }
        }
        return chain.proceed(chain.request())
    }
}

/**
 * For HttpURLConnection: the host name check (OkHttp's verifier, or the one given) and then the
 * pins of that host on the session's verified chain.
 */
class PinningHostnameVerifier internal constructor(
    private val tm: PinningTrustManager,
    private val names: HostnameVerifier = OkHostnameVerifier,
) : HostnameVerifier {
    override fun verify(hostname: String, session: SSLSession): Boolean {
        if (!names.verify(hostname, session)) return false
        val peer = try {
            session.peerCertificates.filterIsInstance<X509Certificate>()
        } catch (e: SSLPeerUnverifiedException) {
            return false
        }
        return tm.checkSession(hostname, session.peerPort, peer) == null
    }
}
