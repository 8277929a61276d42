package dev.pinctl.android

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestFactory
import java.io.File

/**
 * Every case of fixtures/bundles/vectors.json (the shared conformance manifest; its README says how
 * to run a case; test/bundle/conformance.ts is the TypeScript runner) on the Kotlin TrustedStore.
 * The verdicts are the manifest's, written by hand from the SPEC.
 */
class ConformanceTest : ConformanceRunner("vectors.json", minCases = 40)

/** fixtures/bundles/vectors-roles.json: SPEC §7 (roles mode, recovery, freeze, bounded lifetime). */
class RolesConformanceTest : ConformanceRunner("vectors-roles.json", minCases = 18)

/** Runs one manifest; `given.mode` "roles" embeds `rootKeys` (threshold = root threshold, trustExpires). */
abstract class ConformanceRunner(file: String, private val minCases: Int) {
    private val manifest = Fixtures.json(File(Fixtures.bundles, file))
    private val dir = File(Fixtures.bundles, manifest["directory"] as String)
    private val cases = manifest["cases"].list().map { it.obj() }

    @Test
    fun `the manifest has cases and every expected error is a class of this SDK with the same code`() {
        assertTrue(cases.size >= minCases, "expected the full manifest, found ${cases.size} cases")
        for ((name, spec) in manifest["errors"].obj()) {
            val cls = Class.forName("dev.pinctl.android.$name")
            val ctor = cls.constructors.first { it.parameterCount >= 1 }
            val args = Array<Any?>(ctor.parameterCount) { if (it == 0) "x" else null }
            val e = ctor.newInstance(*args) as PinctlException
            assertEquals(spec.obj()["code"], e.code, name)
        }
    }

    @TestFactory
    fun `every conformance case`(): List<DynamicTest> = cases.map { c ->
        DynamicTest.dynamicTest("${c["name"]} (${c["spec"]})") {
            val wrong = runCase(c)
            assertTrue(wrong.isEmpty(), wrong.joinToString("\n"))
        }
    }

    private fun given(c: Map<String, Any?>): Map<String, Any?> = manifest["defaults"].obj() + (c["given"]?.obj() ?: emptyMap())

    private fun pems(names: Any?) = names.list().map { name ->
        File(dir, manifest["keys"].obj()[name].obj()["publicKeyPem"] as String).readText()
    }

    private fun storeFor(g: Map<String, Any?>): TrustedStore {
        val audience = g["audience"] as String
        val threshold = g["threshold"].int().toInt()
        if (g["mode"] == "roles") {
            val expires = Codec.parseTime(g["trustExpires"] as String)!!
            val root = Keys.rootRole(pems(g["rootKeys"]), threshold, expires)
            return TrustedStore.roles(audience, root, g["skewMs"].int(), g["maxBytes"].int().toInt())
        }
        val embedded = Keys.embedded(pems(g["trustedKeys"]), threshold)
        val keyset = TrustedKeyset(g["keysetVersion"].int(), embedded.threshold, embedded.keys)
        return TrustedStore(audience, keyset, g["skewMs"].int(), g["maxBytes"].int().toInt())
    }

    private fun runCase(c: Map<String, Any?>): List<String> {
        val g = given(c)
        val store = storeFor(g)
        val wrong = mutableListOf<String>()
        c["steps"].list().map { it.obj() }.forEachIndexed { i, step ->
            val at = "step ${i + 1} (${step["op"]} ${step["file"]})"
            val bytes = File(dir, step["file"] as String).readBytes()
            var version: Long? = null
            val now = Codec.parseTime((step["now"] ?: g["now"]) as String)!!
            val outcome = try {
                if (step["op"] == "rotate") {
                    version = store.rotate(bytes, now).keyset.version
                    "rotated"
                } else {
                    val type = BundleType.ofWire(step["type"] as String)!!
                    val r = store.verify(type, bytes, now)
                    version = r.bundle.payload.version
                    r.status.name.lowercase()
                }
            } catch (e: PinctlException) {
                e.javaClass.simpleName
            }
            if (outcome != step["expect"]) wrong += "$at: expected ${step["expect"]}, got $outcome"
            val want = (if (step["op"] == "rotate") step["keysetVersion"] else step["version"])?.int()
            if (outcome == step["expect"] && want != null && version != want) wrong += "$at: expected version $want, got $version"
        }
        val after = c["after"]?.obj() ?: emptyMap()
        for (type in listOf(BundleType.PINS, BundleType.TRUST_ROOTS)) {
            if (!after.containsKey(type.wire)) continue
            val want = after[type.wire]?.int()
            val got = store.current(type)?.payload?.version
            if (want != got) wrong += "after: ${type.wire} in force: expected $want, got $got"
        }
        after["keysetVersion"]?.int()?.let {
            if (store.keyset.version != it) wrong += "after: keyset version: expected $it, got ${store.keyset.version}"
        }
        return wrong
    }
}
