package dev.pinctl.android

import java.io.File
import java.io.IOException
import java.nio.channels.Channels
import java.nio.file.Files
import java.nio.file.LinkOption
import java.nio.file.NoSuchFileException
import java.nio.file.StandardOpenOption
import java.nio.file.attribute.BasicFileAttributes
import java.nio.file.attribute.PosixFilePermission

/**
 * Issue 9 item 7: the storage directory is trusted only when no other user can write to it, and
 * stored files are read without following symlinks. Uses java.nio.file, present on every server
 * JVM and on Android 26+; below that (NIO false) the app-private files directory the platform
 * creates owner-only is relied on, and BundleStorage falls back to java.io checks.
 */
internal object StorageSafety {
    val NIO: Boolean = try {
        Class.forName("java.nio.file.Files")
        true
    } catch (e: ClassNotFoundException) {
        false
    } catch (e: LinkageError) {
        false
    }

    /** Refuses a directory another user owns or may write to (InsecureStorageError). */
    fun checkDirectory(dir: File) {
        if (!NIO) return
        val path = dir.toPath()
        val perms = try {
            Files.getPosixFilePermissions(path)
        } catch (e: UnsupportedOperationException) {
            return // not a POSIX file system (Windows): ACLs, out of scope
        } catch (e: IOException) {
            throw StorageError("cannot read the permissions of the storage directory $dir: ${e.message}", e)
        }
        val open = perms.filter { it == PosixFilePermission.GROUP_WRITE || it == PosixFilePermission.OTHERS_WRITE }
        if (open.isNotEmpty()) {
            throw InsecureStorageError(
                "storage directory $dir: expected writable by its owner only, " +
                    "found ${open.joinToString { it.name.lowercase() }}",
                "another user could plant or replace stored bundles; use an owner-only directory (chmod 700 $dir)",
            )
        }
        val owner = Files.getOwner(path)
        val me = processUser(dir)
        if (owner != me) {
            throw InsecureStorageError(
                "storage directory $dir: expected owned by the process user ${me?.name ?: "(unknown)"}, " +
                    "found ${owner.name}",
                "use a directory this process created (on Android: File(context.filesDir, \"pinctl\"))",
            )
        }
    }

    /** Java has no getuid(): the owner of a file this process creates is the process user. */
    private fun processUser(dir: File) = try {
        val probe = File.createTempFile(".owner-check.", ".tmp", dir)
        try { Files.getOwner(probe.toPath()) } finally { probe.delete() }
    } catch (e: IOException) {
        null // cannot create a file there: not ours
    }

    /** null when absent; IOException when not a regular file, a symlink, or larger than maxBytes. */
    fun readNoFollow(file: File, maxBytes: Int): ByteArray? {
        val path = file.toPath()
        val attrs = try {
            Files.readAttributes(path, BasicFileAttributes::class.java, LinkOption.NOFOLLOW_LINKS)
        } catch (e: NoSuchFileException) {
            return null
        }
        if (!attrs.isRegularFile) {
            val kind = when {
                attrs.isSymbolicLink -> "a symlink"
                attrs.isDirectory -> "a directory"
                else -> "a special file"
            }
            throw IOException("$file: refused, expected a regular file, found $kind")
        }
        if (attrs.size() > maxBytes) {
            throw IOException("$file: refused, ${attrs.size()} bytes exceed the $maxBytes-byte limit")
        }
        // NOFOLLOW_LINKS opens with O_NOFOLLOW: a symlink swapped in after the check fails here.
        return Files.newByteChannel(path, setOf(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)).use { ch ->
            val out = Channels.newInputStream(ch).readNBytesCompat(maxBytes + 1)
            if (out.size > maxBytes) throw IOException("$file: refused, larger than $maxBytes bytes")
            out
        }
    }
}
