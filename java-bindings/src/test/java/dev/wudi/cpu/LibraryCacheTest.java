package dev.wudi.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The owner-only, content-named cache that a library packed in a jar is loaded from. */
class LibraryCacheTest {

    @TempDir
    Path tmp;

    private URL jarEntry(String name, byte[] bytes) throws Exception {
        Path jar = tmp.resolve("lib.jar");
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(out)) {
            j.putNextEntry(new JarEntry(name));
            j.write(bytes);
            j.closeEntry();
        }
        return new URL("jar:" + jar.toUri() + "!/" + name);
    }

    @Test
    void theFolderIsMadeOwnerOnly() throws Exception {
        Path dir = LibraryCache.cacheDir(tmp.resolve("cache"));
        assertNotNull(dir);
        assertEquals(tmp.resolve("cache").resolve("wudi"), dir);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
    }

    /** A folder of ours that others may write into is closed before use (they could swap the library). */
    @Test
    void anOpenFolderOfOursIsClosed() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("cache").resolve("wudi"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        assertEquals(dir, LibraryCache.cacheDir(tmp.resolve("cache")));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
    }

    /** A symbolic link in place of the folder is not followed: the cache is not used. */
    @Test
    void aLinkInPlaceOfTheFolderIsRefused() throws Exception {
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        Files.createDirectories(tmp.resolve("cache"));
        Files.createSymbolicLink(tmp.resolve("cache").resolve("wudi"), elsewhere);
        assertEquals(null, LibraryCache.cacheDir(tmp.resolve("cache")));
    }

    @Test
    void copiedOnceByContentAndReused() throws Exception {
        byte[] bytes = "not really a library".getBytes(StandardCharsets.UTF_8);
        URL url = jarEntry("dev/wudi/cpu/linux-x86-64/libwudi_cpu.so", bytes);
        Path dir = LibraryCache.cacheDir(tmp.resolve("cache"));
        Path first = LibraryCache.copy(url, dir);
        assertTrue(first.getFileName().toString().matches("libwudi_cpu-[0-9a-f]{16}\\.so"), first.toString());
        assertArrayEquals(bytes, Files.readAllBytes(first));
        FileTime old = FileTime.fromMillis(1_000_000_000_000L);
        Files.setLastModifiedTime(first, old);
        assertEquals(first, LibraryCache.copy(url, dir));
        assertEquals(old, Files.getLastModifiedTime(first), "the second run reused the copy");
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
    }

    /** A file at the name whose bytes differ (truncated, tampered) is replaced, not loaded. */
    @Test
    void aWrongFileAtTheNameIsReplaced() throws Exception {
        byte[] bytes = "the library's bytes".getBytes(StandardCharsets.UTF_8);
        URL url = jarEntry("libx.so", bytes);
        Path dir = LibraryCache.cacheDir(tmp.resolve("cache"));
        Path target = LibraryCache.copy(url, dir);
        Files.write(target, "the lib".getBytes(StandardCharsets.UTF_8));
        assertEquals(target, LibraryCache.copy(url, dir));
        assertArrayEquals(bytes, Files.readAllBytes(target));
    }
}
