package dev.pinctl.android

/**
 * Every error the SDK throws, with the stable code of the Node SDK (src/bundle/errors.ts,
 * src/sdk/errors.ts): one class per step of docs/SPEC.md §4–5. `hint` says what to do about it.
 */
open class PinctlException(val code: String, message: String, val hint: String? = null, cause: Throwable? = null) :
    RuntimeException(message, cause) {
    /** The `error:` line, then a `hint:` line when there is one (the CLI's format). */
    fun describe(): String = "error: $message" + (hint?.let { "\nhint: $it" } ?: "")
}

/** A bundle was refused; the last good bundle stays in force. */
open class BundleError(code: String, message: String, hint: String? = null, cause: Throwable? = null) :
    PinctlException(code, message, hint, cause)

/** SPEC §4.1 */
class TooLargeError(message: String) : BundleError("BUNDLE_TOO_LARGE", message)

/** SPEC §4.2 */
class EnvelopeError(message: String, hint: String? = null) : BundleError("BUNDLE_ENVELOPE", message, hint)

/** SPEC §4.3 */
class PayloadTypeError(message: String) : BundleError("BUNDLE_PAYLOAD_TYPE", message)

/** SPEC §4.4 */
class SignatureError(message: String, hint: String? = null) : BundleError("BUNDLE_SIGNATURE", message, hint)

/** SPEC §4.5, §4.9 */
class PayloadError(message: String) : BundleError("BUNDLE_PAYLOAD", message)

/** SPEC §4.6 */
class AudienceError(message: String) : BundleError("BUNDLE_AUDIENCE", message)

/** SPEC §4.7 */
class RollbackError(message: String) : BundleError("BUNDLE_ROLLBACK", message)

/** SPEC §4.8, §5.7 */
class ExpiredError(message: String) : BundleError("BUNDLE_EXPIRED", message)

/** SPEC §4.8 */
class NotYetValidError(message: String) : BundleError("BUNDLE_NOT_YET_VALID", message)

/** SPEC §5, §7.2, §7.4 */
class KeysetError(message: String) : BundleError("BUNDLE_KEYSET", message)

/** SPEC §7.5: the root role (the app's `trustExpires`, or a rotated root's `expiresAt`) has expired. */
class TrustExpiredError(message: String) : BundleError(
    "BUNDLE_TRUST_EXPIRED",
    message,
    "the embedded root keys are frozen: ship an app update with a later trustExpires, or publish a keyset " +
        "rotating the root role before it expires",
)

/** The bundle never arrived: network, timeout, HTTP status, redirect. */
class FetchError(message: String, hint: String? = null, cause: Throwable? = null) :
    BundleError("BUNDLE_FETCH", message, hint, cause)

/** The app's configuration is unusable (bad URL, key, baseline). */
class ConfigError(message: String) : PinctlException("CONFIG_MALFORMED", message)

/** The storage directory is unsafe to trust (another owner, group/world writable): refused at start-up. */
class InsecureStorageError(message: String, hint: String) : PinctlException("STORAGE_INSECURE", message, hint)

/** A verified bundle could not be saved: it is in force until the process ends, and saved again on the next refresh. */
class StorageError(message: String, cause: Throwable?) : PinctlException("OUTPUT_UNWRITABLE", message, null, cause)

/** A TLS connection whose verified chain failed the pins or trust roots in force. */
class PinningError(
    val host: String,
    val port: Int,
    /** "pin-mismatch" or "untrusted-root", as in the Node SDK's reports. */
    val reason: String,
    /** SPKI SHA-256 of each certificate of the verified chain, leaf first. */
    val chainPins: List<String>,
    /** The pins (or listed root pins) one of which was required. */
    val expectedPins: List<String>,
) : PinctlException(
    "PIN_MISMATCH",
    "$host:$port: the verified chain [${list(chainPins)}] holds " +
        (if (reason == "pin-mismatch") "none of the pinned keys" else "no trust root listed in the applied trust-root bundle") +
        " [${list(expectedPins)}]",
    if (reason == "pin-mismatch") {
        "the server changed keys or the connection is intercepted; publish a bundle with the new pin if the change is yours"
    } else {
        null
    },
)

private fun list(pins: List<String>): String =
    if (pins.size > 8) pins.take(8).joinToString(", ") + ", … ${pins.size - 8} more" else pins.joinToString(", ")
