package dev.pinctl.android

import java.util.concurrent.Executors
import java.util.concurrent.ScheduledExecutorService
import java.util.concurrent.TimeUnit

/**
 * Periodic refresh on one daemon thread, plus refresh-on-failure: after a pinning failure (the
 * server's keys may have changed and a new bundle be out) one refresh, at most once a minute.
 * Errors of a scheduled refresh are kept in lastError; the last good bundle stays in force.
 */
internal class RefreshScheduler(private val client: PinctlClient) {
    @Volatile private var executor: ScheduledExecutorService? = null
    @Volatile private var lastFailureRefresh = Long.MIN_VALUE / 2
    @Volatile var lastError: PinctlException? = null
        private set

    @Synchronized
    fun start(intervalMs: Long): AutoCloseable {
        require(intervalMs >= 1000) { "intervalMs: expected at least 1000" }
        executor?.shutdownNow()
        val ex = Executors.newSingleThreadScheduledExecutor { r -> Thread(r, "pinctl-refresh").apply { isDaemon = true } }
        executor = ex
        ex.scheduleWithFixedDelay({ runOnce() }, 0, intervalMs, TimeUnit.MILLISECONDS)
        return AutoCloseable { stop(ex) }
    }

    @Synchronized
    private fun stop(ex: ScheduledExecutorService) {
        ex.shutdownNow()
        if (executor === ex) executor = null
    }

    fun onPinningFailure() {
        val ex = executor ?: return
        val t = client.config.clock()
        synchronized(this) {
            if (t - lastFailureRefresh < MIN_FAILURE_INTERVAL_MS) return
            lastFailureRefresh = t
        }
        try { ex.execute { runOnce() } } catch (e: java.util.concurrent.RejectedExecutionException) { /* stopped */ }
    }

    private fun runOnce() {
        lastError = try {
            client.refresh()
            null
        } catch (e: PinctlException) {
            e
        }
    }

    companion object {
        const val MIN_FAILURE_INTERVAL_MS = 60_000L
    }
}
