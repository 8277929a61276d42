package dev.pinctl.android

import java.io.File

/** Paths shared by the tests: the repository root (the manifest is read from there, never copied). */
object Fixtures {
    val repoRoot: File by lazy {
        var d: File? = File(System.getProperty("user.dir")).absoluteFile
        while (d != null && !File(d, "fixtures/bundles/vectors.json").isFile) d = d.parentFile
        d ?: error("fixtures/bundles/vectors.json not found above ${System.getProperty("user.dir")}")
    }
    val bundles: File get() = File(repoRoot, "fixtures/bundles")
    val ed25519Vectors: File get() = File(repoRoot, "../shared/vectors/ed25519").canonicalFile

    @Suppress("UNCHECKED_CAST")
    fun json(file: File): Map<String, Any?> = StrictJson.parse(file.readBytes()) as Map<String, Any?>

    fun tempDir(prefix: String): File = kotlin.io.path.createTempDirectory(prefix).toFile().also { it.deleteOnExit() }
}

@Suppress("UNCHECKED_CAST")
fun Any?.obj(): Map<String, Any?> = this as Map<String, Any?>

@Suppress("UNCHECKED_CAST")
fun Any?.list(): List<Any?> = this as List<Any?>

fun Any?.int(): Long = (this as java.math.BigDecimal).toLong()
