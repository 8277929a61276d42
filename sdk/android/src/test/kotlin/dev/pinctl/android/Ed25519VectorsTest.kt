package dev.pinctl.android

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File

/**
 * ../shared/vectors/ed25519 (its README states the verdicts): every Wycheproof case as labelled,
 * and of the 12 "Taming the many EdDSAs" cases a strict verifier accepts only case 3. 0 wrong of 163.
 */
class Ed25519VectorsTest {
    private val dir = Fixtures.ed25519Vectors.also {
        check(it.isDirectory) { "the shared Ed25519 vectors are missing: expected $it (../shared/vectors/ed25519 beside the checkout)" }
    }
    private fun hex(s: Any?) = Codec.unhex(s as String)

    @Test
    fun `every Wycheproof case gives its labelled verdict`() {
        val doc = Fixtures.json(File(dir, "wycheproof_ed25519_test.json"))
        val wrong = mutableListOf<String>()
        var ran = 0
        for (group in doc["testGroups"].list().map { it.obj() }) {
            val pk = hex(group["publicKey"].obj()["pk"])
            for (t in group["tests"].list().map { it.obj() }) {
                val got = Ed25519Strict.verify(pk, hex(t["msg"]), hex(t["sig"]))
                if (got != (t["result"] == "valid")) wrong += "tcId ${t["tcId"]} (${t["result"]}): ${t["comment"]}"
                ran++
            }
        }
        assertEquals(emptyList<String>(), wrong)
        assertEquals(151, ran)
        assertEquals(151L, doc["numberOfTests"].int())
    }

    @Test
    fun `speccheck cases - only case 3 is accepted`() {
        val cases = StrictJson.parse(File(dir, "speccheck_cases.json").readBytes()).list().map { it.obj() }
        assertEquals(12, cases.size)
        val accepted = cases.indices.filter { i ->
            val c = cases[i]
            Ed25519Strict.verify(hex(c["pub_key"]), hex(c["message"]), hex(c["signature"]))
        }
        assertEquals(listOf(3), accepted)
    }

    @Test
    fun `identity key with the trivial signature is refused, RFC 8032 test 1 verifies`() {
        val identity = Codec.unhex("01" + "00".repeat(31))
        val trivial = Codec.unhex("01" + "00".repeat(63))
        assertFalse(Ed25519Strict.verify(identity, "anything".toByteArray(), trivial))
        assertTrue(Ed25519Strict.checkPublicKey(identity) != null)
        val pk = Codec.unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        val sig = Codec.unhex(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        )
        assertTrue(Ed25519Strict.verify(pk, ByteArray(0), sig))
    }
}
