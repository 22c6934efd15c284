package dev.wudi.format;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What kind of thing a path is, in the words of one error line ("a FIFO", "a character device", "a folder"), and the
 * refusal of input paths that are not regular files: opening a FIFO for reading blocks until a writer comes, and a
 * device can be read forever, so neither is ever opened.
 */
public final class FileKinds {

    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    private static final int S_IFLNK = 0120000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFBLK = 0060000;
    private static final int S_IFDIR = 0040000;
    private static final int S_IFCHR = 0020000;
    private static final int S_IFIFO = 0010000;

    private FileKinds() {
    }

    /** "a FIFO (named pipe)", "a folder", "a file of 120 bytes", ..., following links ("a link to a missing X"). */
    public static String describe(Path p) {
        if (Files.isSymbolicLink(p) && !Files.exists(p)) {
            try {
                return "a symbolic link to " + Files.readSymbolicLink(p) + ", which does not exist";
            } catch (IOException e) {
                return "a broken symbolic link";
            }
        }
        Integer mode = mode(p);
        int type = mode == null ? -1 : mode & S_IFMT;
        if (type == S_IFIFO) {
            return "a FIFO (named pipe)";
        } else if (type == S_IFCHR) {
            return "a character device";
        } else if (type == S_IFBLK) {
            return "a block device";
        } else if (type == S_IFSOCK) {
            return "a socket";
        } else if (type == S_IFDIR || Files.isDirectory(p)) {
            return "a folder";
        } else if (type == S_IFREG || Files.isRegularFile(p)) {
            try {
                long n = Files.size(p);
                return n == 0 ? "an empty file" : "a file of " + n + " bytes";
            } catch (IOException e) {
                return "a file";
            }
        } else if (type == S_IFLNK) {
            return "a symbolic link";
        }
        return "neither a regular file nor a folder";
    }

    /**
     * Refuses an input that exists but is not a regular file (after links), before anything opens it.
     *
     * @param what how the error names it, e.g. "the base" or "adapter_config.json"
     */
    public static void requireRegularFile(Path p, String what) throws SafetensorsException {
        if (Files.exists(p) && !Files.isRegularFile(p)) {
            throw new SafetensorsException(SafetensorsException.Kind.NOT_A_FILE, p, what + " is " + describe(p)
                    + ", not a regular file; give the file itself");
        }
    }

    /** Whether p is neither a regular file nor a folder (after links): a FIFO, device or socket. */
    public static boolean isSpecial(Path p) {
        return Files.exists(p) && !Files.isRegularFile(p) && !Files.isDirectory(p);
    }

    private static Integer mode(Path p) {
        try {
            Object m = Files.getAttribute(p, "unix:mode");
            return m instanceof Integer i ? i : null;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException | SecurityException e) {
            return null;
        }
    }
}
