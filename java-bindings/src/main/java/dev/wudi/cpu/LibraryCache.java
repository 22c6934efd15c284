package dev.wudi.cpu;

import com.sun.jna.Native;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Set;

/**
 * Where a native library packed in the jar is loaded from. dlopen needs a file: a library in a classes
 * folder is used where it is; one in a jar is copied once into the user's cache folder
 * ($XDG_CACHE_HOME/wudi, else ~/.cache/wudi, owner-only), named by its content's SHA-256, and reused by
 * later runs. (JNA's own extraction writes a new temporary file per JVM and leaves it behind whenever the
 * JVM does not exit normally: one more per killed merge.) Where the cache cannot be used safely, JNA's
 * extraction is the fallback.
 */
final class LibraryCache {

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");

    private LibraryCache() {
    }

    /** A file holding the resource at path (a classpath name starting with '/'). */
    static File file(Class<?> owner, String path) throws IOException {
        URL url = owner.getResource(path);
        if (url == null) {
            throw new IOException("no " + path.substring(1) + " on the classpath");
        }
        if ("file".equals(url.getProtocol())) {
            try {
                return new File(url.toURI());
            } catch (URISyntaxException | IllegalArgumentException e) {
                // fall through to a copy
            }
        }
        Path dir = cacheDir(defaultBase());
        if (dir == null) {
            return Native.extractFromResourcePath(path, owner.getClassLoader());
        }
        return copy(url, dir).toFile();
    }

    /** $XDG_CACHE_HOME, else ~/.cache. */
    static Path defaultBase() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        return xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
    }

    /**
     * The resource's copy in dir, named NAME-HASH.EXT by the first 16 hex digits of its SHA-256: reused when
     * it holds the same bytes, else (re)written through a temporary file and an atomic rename, so that a
     * concurrent run never loads a half-written library.
     */
    static Path copy(URL url, Path dir) throws IOException {
        byte[] bytes;
        try (InputStream in = url.openStream()) {
            bytes = in.readAllBytes();
        }
        String path = url.getPath();
        String name = path.substring(path.lastIndexOf('/') + 1);
        int dot = name.indexOf('.');
        String stem = dot < 0 ? name : name.substring(0, dot);
        String ext = dot < 0 ? "" : name.substring(dot);
        Path target = dir.resolve(stem + "-" + sha256(bytes).substring(0, 16) + ext);
        if (Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS) && Arrays.equals(Files.readAllBytes(target), bytes)) {
            return target;
        }
        Path tmp = Files.createTempFile(dir, stem + "-", ".partial");
        try {
            Files.write(tmp, bytes);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
        return target;
    }

    /** base/wudi, created owner-only; null where it is not ours alone or cannot be made. */
    static Path cacheDir(Path base) {
        try {
            Path dir = base.resolve("wudi");
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectories(base);
                try {
                    Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
                } catch (UnsupportedOperationException e) {
                    Files.createDirectory(dir);
                }
            }
            if (Files.isSymbolicLink(dir) || !Files.isWritable(dir)) {
                return null;
            }
            try {
                if (!Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName().equals(System.getProperty("user.name"))) {
                    return null;                       // someone else could swap the library: do not use it
                }
                if (!Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS).equals(OWNER_ONLY)) {
                    Files.setPosixFilePermissions(dir, OWNER_ONLY);       // ours, but others could write into it
                }
            } catch (UnsupportedOperationException e) {
                // not a POSIX file system: nothing more to check
            }
            return dir;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
