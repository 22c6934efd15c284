package dev.wudi.format;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Local copies of safetensors files that hold only some of their tensors' bytes. A distributed merge's task on
 * remote storage (HDFS, S3) fetches a file's header and only the tensors it merges, into a sparse file of the remote
 * file's size: every other byte is a hole, which reads as zeros. Registered here, such a copy refuses every read of a
 * tensor it does not hold ({@link SafetensorsFile#readFloats}, {@link SafetensorsFile#readBytes}), naming the file
 * and the tensor, so that a read nobody planned fails instead of merging zeros as weights.
 *
 * <p>A file registered before {@link SafetensorsFile#open} is opened with the set registered then.
 */
public final class PartialCopies {

    private static final Map<Path, Set<String>> HELD = new ConcurrentHashMap<>();

    private PartialCopies() {
    }

    /** Marks {@code file} as a partial copy holding the bytes of exactly {@code tensors}. */
    public static void register(Path file, Set<String> tensors) {
        HELD.put(key(file), Set.copyOf(tensors));
    }

    /** {@code file} is no longer a partial copy (it was deleted, or filled completely). */
    public static void forget(Path file) {
        HELD.remove(key(file));
    }

    /** The tensors a registered partial copy holds, or null for an ordinary (complete) file. */
    static Set<String> held(Path file) {
        return HELD.get(key(file));
    }

    private static Path key(Path file) {
        return file.toAbsolutePath().normalize();
    }
}
