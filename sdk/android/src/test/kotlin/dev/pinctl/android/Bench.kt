package dev.pinctl.android

import com.google.crypto.tink.subtle.Ed25519Verify

/**
 * `npm run bench` (bench/android.ts): verify + apply of 1, 100 and 10,000-domain pin bundles
 * (TrustedStore.verify, SPEC §4 steps 1–9, then the host lookup table the client builds), against
 * a bare Ed25519 verify of the same PAE bytes, measured in the same run. Medians after warm-up.
 */
fun main() {
    val key = TestSigner()
    val now = System.currentTimeMillis()
    println("pinctl Kotlin SDK bench — java ${System.getProperty("java.version")}, ${Runtime.getRuntime().availableProcessors()} cores")
    for (n in listOf(1, 100, 10_000)) {
        val domains = (0 until n).joinToString(",") { i ->
            "{\"domain\":\"api$i.example.com\",\"includeSubdomains\":${i % 2 == 0},\"pins\":[\"${pin("a$i")}\",\"${pin("b$i")}\"]}"
        }
        // Valid now, for 30 days: SPEC §7.4 refuses more than 366 days.
        val issued = java.time.Instant.ofEpochMilli(now - 86_400_000L).truncatedTo(java.time.temporal.ChronoUnit.SECONDS)
        val expires = java.time.Instant.ofEpochMilli(now + 30 * 86_400_000L).truncatedTo(java.time.temporal.ChronoUnit.SECONDS)
        val payload = "{\"type\":\"pins\",\"audience\":\"com.example.app\",\"version\":1,\"issuedAt\":\"$issued\"," +
            "\"expiresAt\":\"$expires\",\"domains\":[$domains]}"
        val bytes = key.envelope(payload)
        val pae = Envelope.pae(BundleType.PINS.payloadType, payload.toByteArray())
        val sig = key.sign(pae)
        val keyset = Keys.embedded(listOf(key.publicKeyBase64))
        val rounds = if (n >= 10_000) 30 else 300
        val ours = LongArray(rounds)
        val bare = LongArray(rounds)
        repeat(2) { pass -> // the first pass warms the JIT up and is discarded
            for (r in 0 until rounds) {
                val store = TrustedStore("com.example.app", keyset, maxBytes = 16 shl 20)
                var t = System.nanoTime()
                val applied = store.verify(BundleType.PINS, bytes, now)
                check(PinTable.ofBundle(applied.bundle.payload.domains).lookup("x.api0.example.com") != null)
                ours[r] = System.nanoTime() - t
                t = System.nanoTime()
                Ed25519Verify(key.publicKey).verify(sig, pae)
                bare[r] = System.nanoTime() - t
                if (pass == 0 && r > rounds / 3) break
            }
        }
        val o = median(ours) / 1e6
        val b = median(bare) / 1e6
        val label = "kotlin bundle verify+apply, ${"%,d".format(n)} domain(s) (${bytes.size / 1024} KiB)"
        val target = if (n == 10_000) "  (target < 50 ms)" else ""
        println("${label.padEnd(34)} ${"%.3f ms".format(o).padEnd(24)} ${"bare Ed25519 verify %.3f ms".format(b).padEnd(34)} ratio ${"%.2f".format(o / b)}x$target")
    }
}

private fun pin(s: String) = Codec.base64(Codec.sha256(s.toByteArray()))

private fun median(xs: LongArray): Double = xs.sorted()[xs.size / 2].toDouble()
