package dev.pinctl.android

/** A DSSE envelope (SPEC §1). */
class Envelope(val payloadType: String, val payload: ByteArray, val signatures: List<Signature>) {
    class Signature(val keyid: String, val sig: ByteArray)

    companion object {
        const val MAX_SIGNATURES = 16

        /** SPEC §4.2: strict JSON, exactly the three members, canonical base64, 64-byte signatures. */
        fun parse(bytes: ByteArray): Envelope {
            val doc = try {
                StrictJson.parse(bytes)
            } catch (e: StrictJsonException) {
                throw EnvelopeError(
                    "expected a DSSE envelope (JSON), found bytes that are not strict UTF-8 JSON: ${e.message}",
                    "is this a bundle? `pinctl bundle inspect FILE` shows what it holds",
                )
            }
            val o = doc as? Map<*, *> ?: throw EnvelopeError("expected a JSON object, found ${describe(doc)}")
            exactKeys(o, listOf("payloadType", "payload", "signatures"), "envelope")
            val type = o["payloadType"] as? String
            if (type.isNullOrEmpty()) throw EnvelopeError("payloadType: expected a string, found ${describe(o["payloadType"])}")
            val payload = base64(o["payload"], "payload")
            val list = o["signatures"] as? List<*>
            if (list == null || list.isEmpty() || list.size > MAX_SIGNATURES) {
                val found = list?.size?.toString() ?: describe(o["signatures"])
                throw EnvelopeError("signatures: expected 1 to $MAX_SIGNATURES entries, found $found")
            }
            val sigs = list.mapIndexed { i, s ->
                val e = s as? Map<*, *> ?: throw EnvelopeError("signatures[$i]: expected an object, found ${describe(s)}")
                exactKeys(e, listOf("keyid", "sig"), "signatures[$i]")
                val keyid = e["keyid"] as? String
                if (keyid == null || keyid.length > 128) {
                    throw EnvelopeError("signatures[$i].keyid: expected a string, found ${describe(e["keyid"])}")
                }
                val sig = base64(e["sig"], "signatures[$i].sig")
                if (sig.size != 64) throw EnvelopeError("signatures[$i].sig: expected 64 bytes (Ed25519), found ${sig.size}")
                Signature(keyid, sig)
            }
            return Envelope(type, payload, sigs)
        }

        /** SPEC §1.2: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
        fun pae(payloadType: String, body: ByteArray): ByteArray {
            val type = payloadType.toByteArray(Charsets.UTF_8)
            val head = "DSSEv1 ${type.size} $payloadType ${body.size} ".toByteArray(Charsets.UTF_8)
            return head + body
        }

        private fun base64(v: Any?, what: String): ByteArray {
            val s = v as? String ?: throw EnvelopeError("$what: expected standard base64, found ${describe(v)}")
            return Codec.base64OrNull(s) ?: throw EnvelopeError("$what: expected canonical standard base64, found ${describe(v)}")
        }

        private fun exactKeys(o: Map<*, *>, keys: List<String>, what: String) {
            val extra = o.keys.filter { it !in keys }
            val missing = keys.filter { it !in o.keys }
            if (extra.isNotEmpty() || missing.isNotEmpty()) {
                throw EnvelopeError(
                    "$what: expected exactly ${keys.joinToString(", ")}" +
                        (if (missing.isNotEmpty()) "; missing ${missing.joinToString(", ")}" else "") +
                        (if (extra.isNotEmpty()) "; unexpected ${extra.joinToString(", ")}" else ""),
                )
            }
        }
    }
}

/** How a JSON value is named in an error message. */
internal fun describe(v: Any?): String = when (v) {
    null -> "null"
    is String -> if (v.length > 40) "a ${v.length}-character string" else "\"$v\""
    is List<*> -> "an array"
    is Map<*, *> -> "an object"
    is Boolean -> "boolean"
    else -> "number"
}
