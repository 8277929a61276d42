package dev.pinctl.android

/**
 * Pins the app ships for one domain, used until a signed bundle is applied. From `expirationDate`
 * (`YYYY-MM-DD` or RFC 3339) on they are not enforced, so an app that never reaches the service
 * cannot brick itself (Android's pin-set expiration).
 */
data class BaselineDomain(
    val pins: List<String>,
    val includeSubdomains: Boolean = false,
    val expirationDate: String? = null,
)

/** One domain's rule (SPEC §3.1); expiresAt for baseline rules only. */
class DomainRule(val domain: String, val includeSubdomains: Boolean, val pins: List<String>, val expiresAt: Long? = null)

/** Which pins apply to a host: the longest covering domain wins (SPEC §3.1). */
class PinTable(val rules: List<DomainRule>) {
    private val byDomain = HashMap<String, DomainRule>(rules.size * 4 / 3 + 1).also { m ->
        for (r in rules) m[r.domain] = r // the last of a repeated domain wins, as associateBy did
    }

    fun lookup(host: String): DomainRule? {
        val name = normalizeHost(host)
        byDomain[name]?.let { return it }
        var i = name.indexOf('.')
        while (i != -1) {
            val rule = byDomain[name.substring(i + 1)]
            if (rule != null && rule.includeSubdomains) return rule
            i = name.indexOf('.', i + 1)
        }
        return null
    }

    companion object {
        /** Lower case, no trailing dot, no IPv6 brackets: the form domains are compared in. */
        fun normalizeHost(host: String): String =
            host.trim().lowercase().removeSurrounding("[", "]").removeSuffix(".")

        fun ofBundle(domains: List<PinsDomain>) = PinTable(domains.map { DomainRule(it.domain, it.includeSubdomains, it.pins) })

        fun ofBaseline(baseline: Map<String, BaselineDomain>): PinTable = PinTable(baseline.map { (name, d) ->
            val domain = normalizeHost(name)
            val where = "baseline[\"$name\"]"
            if (!Payloads.isHostname(domain)) throw ConfigError("$where: expected a host name without wildcard")
            val pins = d.pins.map { p ->
                val pin = p.removePrefix("sha256/")
                if (!Payloads.isPinValue(pin)) throw ConfigError("$where.pins: expected base64 SHA-256 pins, found \"$p\"")
                pin
            }.distinct()
            // SPEC §3.1 asks bundles for a backup pin; a baseline without one bricks on the first key change.
            if (pins.size < 2) throw ConfigError("$where.pins: expected at least two distinct pins (one a backup)")
            val expires = d.expirationDate?.let { date ->
                Codec.parseTime(if (date.length == 10) "${date}T00:00:00Z" else date)
                    ?: throw ConfigError("$where.expirationDate: expected YYYY-MM-DD, found \"$date\"")
            }
            DomainRule(domain, d.includeSubdomains, pins, expires)
        })
    }
}
