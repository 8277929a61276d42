package dev.pinctl.android

import okhttp3.MediaType.Companion.toMediaType
import okhttp3.RequestBody.Companion.toRequestBody
import java.io.File
import java.util.concurrent.TimeUnit

/**
 * The real pinctl, as `node dist/cli/main.js` (dist/ is built by `npm ci`). Tests that need it
 * fail with a clear message when it is missing instead of a stack trace from deep inside.
 */
object PinctlCli {
    val main: File by lazy {
        val f = File(Fixtures.repoRoot, "dist/cli/main.js")
        check(f.isFile) { "dist/cli/main.js is missing: run `npm ci` (it builds dist/) in ${Fixtures.repoRoot} before `mvn -f sdk/android verify`" }
        f
    }

    /** Runs pinctl; returns stdout, or throws with stderr when the exit code is not 0. */
    fun run(vararg args: String, env: Map<String, String> = emptyMap()): String {
        val pb = ProcessBuilder(listOf("node", main.path) + args).redirectErrorStream(false)
        pb.environment().putAll(env)
        pb.environment()["NO_COLOR"] = "1"
        val p = pb.start()
        val out = p.inputStream.bufferedReader().readText()
        val err = p.errorStream.bufferedReader().readText()
        check(p.waitFor(60, TimeUnit.SECONDS)) { "pinctl ${args.joinToString(" ")} did not finish" }
        check(p.exitValue() == 0) { "pinctl ${args.joinToString(" ")} exited ${p.exitValue()}: $err" }
        return out
    }
}

/** `pinctl serve` on 127.0.0.1 (any free port), started and stopped by the test. */
class PinctlServe(dir: File, key: File, audience: String = "com.example.app") : AutoCloseable {
    val token = "kotlin-sdk-test-token-0123456789abcdef"
    private val process: Process
    val url: String

    init {
        val pb = ProcessBuilder(
            "node", PinctlCli.main.path, "serve", "--listen", "127.0.0.1:0", "--key", key.path,
            "--data", File(dir, "data").path, "--audience", audience, "--expires-in", "7d", "--guard-timeout", "5s",
        )
        pb.environment()["PINCTL_ADMIN_TOKEN"] = token
        pb.environment()["NO_COLOR"] = "1"
        pb.redirectError(File(dir, "serve.log"))
        process = pb.start()
        val line = process.inputStream.bufferedReader().readLine()
            ?: error("pinctl serve exited before listening: ${File(dir, "serve.log").readText()}")
        url = Regex("listening on (\\S+)").find(line)?.groupValues?.get(1)?.trimEnd('/') ?: error("unexpected first line: $line")
    }

    /** POST an admin publish; returns the HTTP status and body. */
    fun publish(path: String, body: String, contentType: String = "application/json"): Pair<Int, String> {
        val req = okhttp3.Request.Builder().url("$url$path").header("Authorization", "Bearer $token")
            .post(body.toRequestBody(contentType.toMediaType())).build()
        okhttp3.OkHttpClient().newCall(req).execute().use { return it.code to (it.body.string()) }
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
    }
}
