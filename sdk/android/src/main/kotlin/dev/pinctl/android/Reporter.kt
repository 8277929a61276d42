package dev.pinctl.android

import okhttp3.Call
import okhttp3.Callback
import okhttp3.HttpUrl
import okhttp3.MediaType.Companion.toMediaType
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody
import okhttp3.Response
import java.io.IOException
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

/** A bundle named in a report. */
data class ReportBundle(val type: String, val version: Long, val expiresAt: String)

/** A pin-failure report: the JSON the Node SDK POSTs to `/v1/reports` (src/sdk/report.ts). */
data class PinReport(
    /** "pin-mismatch", "untrusted-root" or "stale-bundle" */
    val type: String,
    val audience: String,
    /** ISO 8601 */
    val time: String,
    val domain: String? = null,
    val port: Int? = null,
    val chainPins: List<String>? = null,
    val expectedPins: List<String>? = null,
    val bundle: ReportBundle? = null,
) {
    fun toJson(): String = buildString {
        append("{\"type\":").append(Json.str(type))
        append(",\"audience\":").append(Json.str(audience))
        append(",\"time\":").append(Json.str(time))
        domain?.let { append(",\"domain\":").append(Json.str(it)) }
        port?.let { append(",\"port\":").append(it) }
        chainPins?.let { append(",\"chainPins\":").append(Json.strings(it)) }
        expectedPins?.let { append(",\"expectedPins\":").append(Json.strings(it)) }
        bundle?.let {
            append(",\"bundle\":{\"type\":").append(Json.str(it.type)).append(",\"version\":").append(it.version)
            append(",\"expiresAt\":").append(Json.str(it.expiresAt)).append('}')
        }
        append('}')
    }
}

/** JSON output for reports and the probe (strings escaped as JSON.stringify does). */
internal object Json {
    fun str(s: String?): String {
        if (s == null) return "null"
        val sb = StringBuilder("\"")
        for (c in s) when {
            c == '"' -> sb.append("\\\"")
            c == '\\' -> sb.append("\\\\")
            c == '\n' -> sb.append("\\n")
            c == '\r' -> sb.append("\\r")
            c == '\t' -> sb.append("\\t")
            c < ' ' -> sb.append("\\u%04x".format(c.code))
            else -> sb.append(c)
        }
        return sb.append('"').toString()
    }

    fun strings(xs: List<String>): String = xs.joinToString(",", "[", "]") { str(it) }
}

/**
 * Hands every report to onReport and, when enabled, POSTs it. Fire-and-forget and bounded (4 in
 * flight, a 5 s timeout, one per kind of failure a minute), so a failing host cannot turn every
 * request into a report.
 */
internal class Reporter(
    private val uri: HttpUrl?,
    private val onReport: ((PinReport) -> Unit)?,
    private val clock: () -> Long,
    base: OkHttpClient,
) {
    private val http = base.newBuilder().followRedirects(false).callTimeout(TIMEOUT_MS, TimeUnit.MILLISECONDS).build()
    private val inFlight = AtomicInteger()
    private val recent = HashMap<String, Long>()

    fun send(report: PinReport) {
        val key = listOf(report.type, report.domain, report.port, report.chainPins, report.bundle?.version).toString()
        val t = clock()
        synchronized(recent) {
            val last = recent[key]
            if (last != null && t - last < THROTTLE_MS) return
            if (recent.size > 256) recent.clear()
            recent[key] = t
        }
        try {
            onReport?.invoke(report)
        } catch (e: RuntimeException) {
            // a throwing callback must not break the connection check that called us
        }
        if (uri != null && inFlight.incrementAndGet() <= MAX_IN_FLIGHT) post(uri, report.toJson()) else inFlight.decrementAndGet()
    }

    private fun post(uri: HttpUrl, body: String) {
        val req = Request.Builder().url(uri).post(body.toRequestBody("application/json".toMediaType())).build()
        http.newCall(req).enqueue(object : Callback {
            override fun onFailure(call: Call, e: IOException) {
                inFlight.decrementAndGet()
            }

            override fun onResponse(call: Call, response: Response) {
                response.close()
                inFlight.decrementAndGet()
            }
        })
    }

    companion object {
        const val MAX_IN_FLIGHT = 4
        const val TIMEOUT_MS = 5_000L
        const val THROTTLE_MS = 60_000L
    }
}
