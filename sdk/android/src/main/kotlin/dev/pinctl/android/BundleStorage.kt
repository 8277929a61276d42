package dev.pinctl.android

import java.io.File
import java.io.FileInputStream
import java.io.FileOutputStream
import java.io.IOException
import java.security.SecureRandom

/**
 * The last good bundles and the keyset chain on disk (SPEC §4.10), with the Node SDK's file names
 * (`pins.json`, `trust-roots.json`, `keyset-N.json`). Every write goes to a temporary file that is
 * fsynced and renamed over the old one, so a crash leaves the old or the new file, never half.
 * java.io only: java.nio.file is Android API 26+.
 */
class BundleStorage(val dir: File, private val maxBytes: Int) {
    private val random = SecureRandom()

    init {
        if (!dir.isDirectory) {
            if (!dir.mkdirs()) throw StorageError("cannot create the storage directory $dir", null)
        } else {
            StorageSafety.checkDirectory(dir) // issue 9 item 7: refused, never repaired, when another user could write
        }
        // Owner only (mode 0700), as the Node SDK creates it.
        dir.setReadable(false, false); dir.setReadable(true, true)
        dir.setWritable(false, false); dir.setWritable(true, true)
        dir.setExecutable(false, false); dir.setExecutable(true, true)
        // Temporary files are only ever leftovers of an interrupted write.
        dir.listFiles()?.filter { TEMP.matches(it.name) }?.forEach { it.delete() }
    }

    /**
     * The stored bytes, or null when absent. A file that is not a regular file (a symlink, a FIFO),
     * or larger than maxBytes, is refused with an IOException saying why. Opened without following
     * symlinks where java.nio.file exists (Android 26+, every server JVM).
     */
    fun read(name: String): ByteArray? {
        val file = File(dir, "$name.json")
        return if (StorageSafety.NIO) StorageSafety.readNoFollow(file, maxBytes) else readLegacy(file)
    }

    /** Android < 26: java.io only; a symlink is told apart by its canonical path. */
    private fun readLegacy(file: File): ByteArray? {
        if (!file.exists()) return null
        if (!file.isFile || file.canonicalFile != File(dir.canonicalFile, file.name)) {
            throw IOException("$file: refused, not a regular file (a symlink or special file)")
        }
        if (file.length() > maxBytes) throw IOException("$file: refused, larger than $maxBytes bytes")
        return FileInputStream(file).use { input ->
            val out = input.readNBytesCompat(maxBytes + 1)
            if (out.size > maxBytes) throw IOException("$file: refused, larger than $maxBytes bytes")
            out
        }
    }

    /** Removes a stored file (SPEC §7.6 recovery); false when it could not be removed. */
    fun delete(name: String): Boolean {
        val file = File(dir, "$name.json")
        val ok = file.delete() || !file.exists()
        syncDir()
        return ok
    }

    fun write(name: String, bytes: ByteArray) {
        val file = File(dir, "$name.json")
        val suffix = ByteArray(6).also(random::nextBytes)
        val temp = File(dir, ".$name.${Codec.hex(suffix)}.tmp")
        try {
            FileOutputStream(temp).use { out ->
                out.write(bytes)
                out.fd.sync()
            }
            if (!temp.renameTo(file)) throw IOException("rename $temp to $file failed")
        } catch (e: IOException) {
            temp.delete()
            throw e
        }
        syncDir()
    }

    /** Makes the rename durable; skipped where a directory cannot be opened (Android < 26, Windows). */
    private fun syncDir() {
        try {
            java.nio.channels.FileChannel.open(dir.toPath(), java.nio.file.StandardOpenOption.READ).use { it.force(true) }
        } catch (e: IOException) {
            // not supported for directories here
        } catch (e: LinkageError) {
            // java.nio.file is absent on Android < 26
        } catch (e: UnsupportedOperationException) {
            // idem
        }
    }

    companion object {
        private val TEMP = Regex("^\\..+\\.tmp$")
    }
}

/** InputStream.readNBytes is Java 11 / Android 33. */
internal fun java.io.InputStream.readNBytesCompat(limit: Int): ByteArray {
    val out = java.io.ByteArrayOutputStream()
    val buf = ByteArray(8192)
    while (out.size() < limit) {
        val n = read(buf, 0, minOf(buf.size, limit - out.size()))
        if (n < 0) break
        out.write(buf, 0, n)
    }
    return out.toByteArray()
}
