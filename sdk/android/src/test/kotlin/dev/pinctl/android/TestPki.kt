package dev.pinctl.android

import mockwebserver3.Dispatcher
import mockwebserver3.MockResponse
import mockwebserver3.MockWebServer
import mockwebserver3.RecordedRequest
import okhttp3.Dns
import okhttp3.OkHttpClient
import okhttp3.tls.HandshakeCertificates
import okhttp3.tls.HeldCertificate
import java.net.InetAddress
import javax.net.ssl.X509TrustManager

/** Certificates made by okhttp-tls for the TLS tests: roots, intermediates, leaves for HOST. */
object TestPki {
    const val HOST = "api.pinctl.test"

    fun root(name: String): HeldCertificate = HeldCertificate.Builder().certificateAuthority(1).commonName(name).build()

    fun intermediate(root: HeldCertificate, name: String): HeldCertificate =
        HeldCertificate.Builder().certificateAuthority(0).commonName(name).signedBy(root).build()

    fun leaf(issuer: HeldCertificate, host: String = HOST): HeldCertificate =
        HeldCertificate.Builder().commonName(host).addSubjectAlternativeName(host).signedBy(issuer).build()

    /** "Platform trust" for a test: exactly these roots, as a trust store would hold them. */
    fun trust(vararg roots: HeldCertificate): X509TrustManager =
        HandshakeCertificates.Builder().apply { roots.forEach { addTrustedCertificate(it.certificate) } }.build().trustManager

    fun pin(cert: HeldCertificate): String = Spki.pinOf(cert.certificate)

    /** HOST (and any name) resolves to 127.0.0.1: the app servers of the tests. */
    val loopback = Dns { name -> if (name == HOST) listOf(InetAddress.getByName("127.0.0.1")) else Dns.SYSTEM.lookup(name) }

    fun okhttp(): OkHttpClient.Builder = OkHttpClient.Builder().dns(loopback)
}

/** An HTTPS "app server" on 127.0.0.1 answering 200 "ok"; restart() changes its certificate chain on the same port. */
class TlsApp(leaf: HeldCertificate, vararg chain: HeldCertificate) : AutoCloseable {
    private var server = start(leaf, chain.toList(), 0)
    val port: Int get() = server.port
    val url: String get() = "https://${TestPki.HOST}:$port/"

    /** Same port when it can be bound again within 2 s (the old socket may linger), else a new one: same host either way. */
    fun restart(leaf: HeldCertificate, vararg chain: HeldCertificate) {
        val p = server.port
        server.close()
        for (attempt in 1..20) {
            try {
                server = start(leaf, chain.toList(), p)
                return
            } catch (e: java.net.BindException) {
                Thread.sleep(100)
            }
        }
        server = start(leaf, chain.toList(), 0)
    }

    override fun close() = server.close()

    private fun start(leaf: HeldCertificate, chain: List<HeldCertificate>, port: Int): MockWebServer {
        val certs = HandshakeCertificates.Builder().heldCertificate(leaf, *chain.map { it.certificate }.toTypedArray()).build()
        return MockWebServer().apply {
            useHttps(certs.sslSocketFactory())
            dispatcher = object : Dispatcher() {
                override fun dispatch(request: RecordedRequest) = MockResponse.Builder().code(200).body("ok").build()
            }
            start(InetAddress.getByName("127.0.0.1"), port)
        }
    }
}

/** A static "bundle host" on plain http (trust comes from signatures): path to response, changeable. */
class BundleHost : AutoCloseable {
    val routes = java.util.concurrent.ConcurrentHashMap<String, () -> MockResponse>()
    val requests = java.util.concurrent.CopyOnWriteArrayList<RecordedRequest>()
    private val server = MockWebServer().apply {
        dispatcher = object : Dispatcher() {
            override fun dispatch(request: RecordedRequest): MockResponse {
                requests += request
                return routes[request.url.encodedPath]?.invoke() ?: MockResponse.Builder().code(404).build()
            }
        }
        start(InetAddress.getByName("127.0.0.1"), 0)
    }
    val url: String get() = server.url("/").toString().trimEnd('/')

    fun serve(path: String, bytes: ByteArray) {
        routes[path] = { MockResponse.Builder().code(200).body(okio.Buffer().write(bytes)).build() }
    }

    fun pins(bytes: ByteArray) = serve("/v1/bundles/pins", bytes)

    override fun close() = server.close()
}
