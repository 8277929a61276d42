package dev.pinctl.android

import okhttp3.Dns
import okhttp3.OkHttpClient
import okhttp3.Request
import java.io.File
import java.net.InetAddress
import java.security.KeyStore
import java.security.cert.CertificateFactory
import java.security.cert.X509Certificate
import javax.net.ssl.TrustManagerFactory
import javax.net.ssl.X509TrustManager
import kotlin.system.exitProcess

/**
 * A command line for checks: `ProbeKt URL PUB.pem STORAGE_DIR HOST [https://HOST:PORT/]` does one
 * refresh and prints one JSON line {ok, error, code, message, version, pins}; with the fifth
 * argument it also makes one request through the enforcing OkHttp client and adds {status} (or
 * the request's {error}). Exit code 0 when everything asked for succeeded, 1 otherwise, 2 usage.
 * Environment: PINCTL_AUDIENCE (default com.example.app); PINCTL_PROBE_CA, a PEM file of roots
 * used as platform trust for the request; PINCTL_PROBE_RESOLVE=HOST:ADDRESS to connect elsewhere.
 */
fun main(args: Array<String>) {
    if (args.size !in 4..5) {
        System.err.println("error: expected URL PUB.pem STORAGE_DIR HOST [https://HOST:PORT/], found ${args.size} arguments")
        System.err.println(
            "hint: java -cp <jar and deps> dev.pinctl.android.ProbeKt http://127.0.0.1:8080 pinctl-signing.pub.pem ./pins api.example.com",
        )
        exitProcess(2)
    }
    exitProcess(probe(args.toList(), System.getenv()) { println(it) })
}

internal fun probe(args: List<String>, env: Map<String, String>, out: (String) -> Unit): Int {
    val fields = LinkedHashMap<String, String>()
    var ok = true
    val client = try {
        PinctlClient(Config(
            url = args[0],
            publicKeys = listOf(File(args[1]).readText()),
            audience = env["PINCTL_AUDIENCE"] ?: "com.example.app",
            storageDir = File(args[2]),
            platformTrustManager = env["PINCTL_PROBE_CA"]?.let { trustOf(File(it)) },
        ))
    } catch (e: Exception) {
        out(line(false, errorFields(e), 0, emptyList()))
        return 1
    }
    try {
        client.refresh()
    } catch (e: PinctlException) {
        ok = false
        fields += errorFields(e)
    }
    if (args.size == 5) {
        val http = client.applyTo(OkHttpClient.Builder().dns(resolver(env["PINCTL_PROBE_RESOLVE"]))).build()
        try {
            http.newCall(Request.Builder().url(args[4]).build()).execute().use { fields["status"] = it.code.toString() }
        } catch (e: Exception) {
            ok = false
            val key = if (fields.containsKey("error")) "requestError" else "error"
            val err = errorFields(e)
            fields[key] = err.getValue("error")
            if (key == "error") fields.putAll(err - "error")
        }
    }
    out(line(ok, fields, client.version, client.pinsFor(args[3])))
    return if (ok) 0 else 1
}

private fun errorFields(e: Throwable): Map<String, String> {
    val p = pinningErrorOf(e)
    val named = p ?: (e as? PinctlException)
    return if (named != null) {
        mapOf("error" to Json.str(named.javaClass.simpleName), "code" to Json.str(named.code), "message" to Json.str(named.message))
    } else {
        mapOf("error" to Json.str(e.javaClass.simpleName), "message" to Json.str(e.message ?: ""))
    }
}

private fun line(ok: Boolean, fields: Map<String, String>, version: Long, pins: List<String>): String {
    val all = LinkedHashMap<String, String>()
    all["ok"] = ok.toString()
    all["error"] = fields["error"] ?: "null"
    all.putAll(fields - "error")
    all["version"] = version.toString()
    all["pins"] = Json.strings(pins)
    return all.entries.joinToString(",", "{", "}") { (k, v) -> "${Json.str(k)}:$v" }
}

private fun trustOf(pem: File): X509TrustManager {
    val ks = KeyStore.getInstance(KeyStore.getDefaultType()).apply { load(null, null) }
    CertificateFactory.getInstance("X.509").generateCertificates(pem.inputStream()).forEachIndexed { i, c ->
        ks.setCertificateEntry("ca$i", c as X509Certificate)
    }
    val f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply { init(ks) }
    return f.trustManagers.filterIsInstance<X509TrustManager>().first()
}

private fun resolver(spec: String?): Dns {
    if (spec == null) return Dns.SYSTEM
    val host = spec.substringBefore(':')
    val address = InetAddress.getByName(spec.substringAfter(':'))
    return Dns { name -> if (name.equals(host, ignoreCase = true)) listOf(address) else Dns.SYSTEM.lookup(name) }
}
