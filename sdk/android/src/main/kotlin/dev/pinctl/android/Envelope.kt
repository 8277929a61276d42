package dev.pinctl.android

/** A DSSE envelope (SPEC §1). */
class Envelope(val payloadType: String, val payload: ByteArray, val signatures: List<Signature>) {
    class Signature(val keyid: String, val sig: ByteArray)

    companion object {
        const val MAX_SIGNATURES = 16

        private val MEMBERS = JsonReader.names("payloadType", "payload", "signatures")
        private val SIGNATURE_MEMBERS = JsonReader.names("keyid", "sig")

        /** SPEC §4.2: strict JSON, exactly the three members, canonical base64, 64-byte signatures. */
        fun parse(bytes: ByteArray): Envelope = fastPathOrNull { readPlain(bytes) } ?: parseGeneral(bytes)

        /**
         * The common envelope (plain ASCII strings, any member order) read in one pass, its payload
         * decoded from base64 in place; anything else leaves the fast path, and parseGeneral then
         * decides, with its exact error. So this accepts only what parseGeneral accepts.
         */
        internal fun readPlain(bytes: ByteArray): Envelope {
            val r = JsonReader(bytes)
            var seen = 0
            var type = ""
            var payload: ByteArray? = null
            var sigs: List<Signature> = emptyList()
            r.expect('{')
            do {
                val k = r.member(MEMBERS)
                if (seen and (1 shl k) != 0) offFastPath() // a repeated member: parseGeneral names it
                seen = seen or (1 shl k)
                when (k) {
                    0 -> type = r.plainText()
                    1 -> payload = plainBase64(r)
                    else -> sigs = plainSignatures(r)
                }
            } while (r.eat(','))
            r.expect('}')
            if (!r.atEnd() || seen != 7 || type.isEmpty()) offFastPath()
            return Envelope(type, payload!!, sigs)
        }

        private fun plainBase64(r: JsonReader): ByteArray {
            val start = r.uncheckedString() // base64 refuses '\\', control and non-ASCII bytes itself
            return Codec.base64OrNull(r.bytes, start, r.i - 1) ?: offFastPath()
        }

        private fun plainSignatures(r: JsonReader): List<Signature> {
            val out = ArrayList<Signature>(1)
            r.expect('[')
            do {
                if (out.size == MAX_SIGNATURES) offFastPath()
                r.expect('{')
                var seen = 0
                var keyid = ""
                var sig: ByteArray? = null
                do {
                    val k = r.member(SIGNATURE_MEMBERS)
                    if (seen and (1 shl k) != 0) offFastPath()
                    seen = seen or (1 shl k)
                    if (k == 0) keyid = r.plainText() else sig = plainBase64(r)
                } while (r.eat(','))
                r.expect('}')
                if (seen != 3 || keyid.length > 128 || sig!!.size != 64) offFastPath()
                out.add(Signature(keyid, sig!!))
            } while (r.eat(','))
            r.expect(']')
            return out
        }

        /** The general reader (a StrictJson tree), for every envelope readPlain leaves to it. */
        internal fun parseGeneral(bytes: ByteArray): Envelope {
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
