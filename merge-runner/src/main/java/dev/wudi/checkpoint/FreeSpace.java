package dev.wudi.checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * The check, before a merge writes its first byte, that the output fits on the disk it goes to: a full disk
 * found after hours of optimisation costs the user those hours (the completed tensors are kept for --resume,
 * but the merge still stops), so it is refused up front with both figures.
 */
public final class FreeSpace {

    private FreeSpace() {
    }

    /** Bytes this process may still write on the filesystem that holds path (or its nearest existing folder). */
    static long usable(Path path) throws IOException {
        Path existing = path.toAbsolutePath().normalize();
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return Long.MAX_VALUE;
        }
        return Files.getFileStore(existing).getUsableSpace();
    }

    /**
     * Refuses a merge whose output does not fit.
     *
     * @param out    the output, as the user named it
     * @param where  the folder written into (named in the message)
     * @param needed bytes the merge still has to write
     * @param usable bytes free there for this process
     * @throws CheckpointException naming both figures and what to do
     */
    static void require(Path out, Path where, long needed, long usable) {
        if (needed > usable) {
            throw new CheckpointException("not enough free space for " + out + ": the merge writes " + human(needed)
                    + " and " + where + " has " + human(usable) + " free; free " + human(needed - usable)
                    + " there or give --out on another disk (nothing was written)");
        }
    }

    /** Bytes already on disk in a partial output (a file, or a folder of shards), which a resume keeps. */
    static long sizeOf(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return 0;
        }
        if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            return Files.size(p);
        }
        long total = 0;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : (Iterable<Path>) s::iterator) {
                if (Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
                    total += Files.size(f);
                }
            }
        }
        return total;
    }

    /** A byte count in decimal units as Hugging Face and disk tools print them: "14.20 GB". */
    public static String human(long bytes) {
        String[] units = {"B", "KB", "MB", "GB", "TB"};
        double v = bytes;
        int u = 0;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.2f %s", v, units[u]);
    }
}
