package dev.pinctl.android

import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.io.File
import java.nio.file.Files
import java.nio.file.attribute.PosixFilePermissions

/** Issue 9 item 7: an owner-only storage directory, stored files read no-follow, regular, capped. */
class StorageHardeningTest {
    private val dir = Fixtures.tempDir("pinctl-kt-storage-")
    private val sdkDir = File(dir, "sdk")
    private val host = BundleHost()
    private val signer = TestSigner()
    private val now = System.currentTimeMillis()
    private val day = 86_400_000L
    private fun pin(s: String) = Codec.base64(Codec.sha256(s.toByteArray()))
    private val baseline = listOf(pin("baseline-a"), pin("baseline-b"))
    private val served = listOf(pin("served-a"), pin("served-b"))

    @AfterEach
    fun stop() {
        host.close()
        dir.deleteRecursively()
    }

    private fun config(maxBytes: Int = TrustedStore.DEFAULT_MAX_BYTES) = Config(
        url = host.url,
        publicKeys = listOf(signer.publicKeyBase64),
        audience = "com.example.app",
        storageDir = sdkDir,
        maxBytes = maxBytes,
        baseline = mapOf("api.example.com" to BaselineDomain(baseline)),
    )

    /** A client that applied version 3 of `served` and saved it. */
    private fun applied(): PinctlClient {
        host.pins(signer.envelope(TestSigner.pinsPayload(3, "api.example.com", served, now - day, now + 7 * day)))
        return PinctlClient(config()).also {
            it.refresh()
            assertTrue(File(sdkDir, "pins.json").isFile)
        }
    }

    @Test
    fun `a symlinked stored file is refused, the baseline applies and the refusal is listed`() {
        applied()
        val elsewhere = File(dir, "outside.json")
        File(sdkDir, "pins.json").copyTo(elsewhere)
        File(sdkDir, "pins.json").delete()
        Files.createSymbolicLink(File(sdkDir, "pins.json").toPath(), elsewhere.toPath())
        val restarted = PinctlClient(config())
        assertEquals(0L, restarted.version)
        assertEquals(baseline, restarted.pinsFor("api.example.com"))
        assertTrue(restarted.status().restoreErrors.single().contains("symlink"), restarted.status().restoreErrors.toString())
    }

    @Test
    fun `a stored file larger than maxBytes is refused`() {
        applied()
        File(sdkDir, "pins.json").writeBytes(ByteArray(2048) { ' '.code.toByte() })
        val restarted = PinctlClient(config(maxBytes = 1024))
        assertEquals(0L, restarted.version)
        assertTrue(restarted.status().restoreErrors.single().contains("1024-byte limit"), restarted.status().restoreErrors.toString())
    }

    @Test
    fun `a group-writable storage directory is refused with a typed error, and left as it was`() {
        sdkDir.mkdirs()
        Files.setPosixFilePermissions(sdkDir.toPath(), PosixFilePermissions.fromString("rwxrwx---"))
        val e = assertThrows<InsecureStorageError> { PinctlClient(config()) }
        assertEquals("STORAGE_INSECURE", e.code)
        assertTrue(e.describe().contains("group_write") && e.describe().contains("hint:"), e.describe())
        assertEquals("rwxrwx---", PosixFilePermissions.toString(Files.getPosixFilePermissions(sdkDir.toPath())))
    }

    @Test
    fun `a world-writable storage directory is refused`() {
        sdkDir.mkdirs()
        Files.setPosixFilePermissions(sdkDir.toPath(), PosixFilePermissions.fromString("rwxr-xrwx"))
        assertThrows<InsecureStorageError> { PinctlClient(config()) }
    }

    @Test
    fun `a storage directory owned by another user is refused`() {
        assumeTrue(System.getProperty("user.name") == "root", "chown needs root")
        sdkDir.mkdirs()
        val nobody = try {
            sdkDir.toPath().fileSystem.userPrincipalLookupService.lookupPrincipalByName("nobody")
        } catch (e: java.io.IOException) {
            null
        }
        assumeTrue(nobody != null, "no user named nobody")
        Files.setOwner(sdkDir.toPath(), nobody)
        val e = assertThrows<InsecureStorageError> { PinctlClient(config()) }
        assertTrue(e.message!!.contains("found nobody"), e.message)
    }

    @Test
    fun `an owner-only directory made by the app is accepted and kept 0700`() {
        sdkDir.mkdirs()
        Files.setPosixFilePermissions(sdkDir.toPath(), PosixFilePermissions.fromString("rwxr-xr-x"))
        PinctlClient(config())
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(sdkDir.toPath())))
        assertEquals(emptyList<String>(), sdkDir.list()!!.toList(), "no owner-check file left behind")
    }

    @Test
    fun `a client whose stored files were deleted falls back to its baseline`() {
        applied()
        sdkDir.listFiles()!!.forEach { it.delete() }
        host.routes.clear() // the service is unreachable for bundles now
        val restarted = PinctlClient(config())
        assertEquals(0L, restarted.version)
        assertEquals(baseline, restarted.pinsFor("api.example.com"))
        assertEquals(emptyList<String>(), restarted.status().restoreErrors)
    }
}
