package dev.pinctl.android

import okhttp3.HttpUrl
import okhttp3.OkHttpClient
import okhttp3.Request
import okio.Buffer
import java.io.IOException
import java.io.InterruptedIOException
import java.util.concurrent.TimeUnit

/** What a GET brought: a body, "not modified" (304) or "nothing here" (404, 403, 410). */
sealed class Download {
    class Body(val bytes: ByteArray, val etag: String?) : Download()
    object NotModified : Download()
    object NotFound : Download()
}

/**
 * Bounded GET of a bundle over http or https (trust comes from the signature, not the transport):
 * no redirects, no caching, identity encoding, a deadline for the whole call, and the size cap
 * enforced while reading (SPEC §4.1), so an endless body costs at most maxBytes of memory.
 */
class Downloader(base: OkHttpClient, timeoutMs: Long, private val maxBytes: Int) {
    val http: OkHttpClient = base.newBuilder()
        .followRedirects(false)
        .followSslRedirects(false)
        .retryOnConnectionFailure(false)
        .cache(null)
        .callTimeout(timeoutMs, TimeUnit.MILLISECONDS)
        .connectTimeout(timeoutMs, TimeUnit.MILLISECONDS)
        .readTimeout(timeoutMs, TimeUnit.MILLISECONDS)
        .build()
    private val timeoutMs = timeoutMs

    fun get(url: HttpUrl, etag: String? = null, notFound: Set<Int> = setOf(404, 410)): Download {
        val req = Request.Builder().url(url)
            .header("Accept", "application/json")
            .header("Accept-Encoding", "identity") // the cap counts the bytes on the wire: no gzip bombs
            .header("User-Agent", "pinctl-android/$SDK_VERSION")
            .apply { if (etag != null) header("If-None-Match", etag) }
            .build()
        try {
            http.newCall(req).execute().use { res ->
                val status = res.code
                if (status == 304) return Download.NotModified
                if (status in notFound) return Download.NotFound
                if (status != 200) {
                    val hint = if (status in 300..399) "redirects are not followed: give the final URL" else null
                    throw FetchError("GET $url: HTTP $status", hint)
                }
                val declared = res.body.contentLength()
                if (declared > maxBytes) throw tooLarge(url)
                val source = res.body.source()
                val buf = Buffer()
                while (source.read(buf, 8192) != -1L) {
                    if (buf.size > maxBytes) throw tooLarge(url)
                }
                return Download.Body(buf.readByteArray(), res.header("ETag"))
            }
        } catch (e: InterruptedIOException) {
            throw FetchError("GET $url: no complete answer within $timeoutMs ms", null, e)
        } catch (e: IOException) {
            throw FetchError("GET $url: ${e.message ?: e.javaClass.simpleName}", null, e)
        }
    }

    private fun tooLarge(url: HttpUrl) =
        TooLargeError("GET $url: the response exceeds the $maxBytes-byte limit; the download was aborted")
}
