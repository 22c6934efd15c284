package dev.wudi.spark;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;

/**
 * Storage that refuses some tasks' parts, as a failing disk or a lost executor would: the file systems of the tests
 * ({@link RefusingLocalFileSystem}, {@link RefusingHdfs}) put into a merge through Hadoop's own setting,
 * {@code --spark-conf spark.hadoop.fs.SCHEME.impl=...}, and told whose writes to refuse by
 * {@code spark.hadoop.wudi.test.refuse}: {@code first-attempts} (every task's first attempt: Spark retries it) or
 * {@code partition:N} (every attempt of the N-th task: the job fails). A refused write leaves what a lost executor
 * leaves, the start of the file, then fails. The driver's own writes (no task) are never refused.
 */
final class RefusedParts {

    /** The Hadoop setting that says whose writes are refused. */
    static final String SETTING = "wudi.test.refuse";

    /** Writes refused so far (the executors of local mode run in the tests' JVM). */
    static final AtomicInteger REFUSED = new AtomicInteger();

    private RefusedParts() {
    }

    /** The --spark-conf settings that refuse writes on the scheme's file system, as {@code how} says. */
    static java.util.List<String> settings(String scheme, Class<?> fileSystem, String how) {
        return java.util.List.of("--spark-conf", "spark.hadoop.fs." + scheme + ".impl=" + fileSystem.getName(),
                // a cached file system of that scheme would be reused, whatever the setting says
                "--spark-conf", "spark.hadoop.fs." + scheme + ".impl.disable.cache=true",
                "--spark-conf", "spark.hadoop." + SETTING + "=" + how);
    }

    /** Whether a task's write of this file is refused: a part or a manifest, by the task the setting names. */
    static boolean refused(Configuration conf, Path file) {
        String how = conf == null ? null : conf.get(SETTING);
        TaskContext tc = TaskContext.get();
        if (how == null || tc == null || !file.getName().startsWith("group-")) {
            return false;
        }
        return how.equals("first-attempts") ? tc.attemptNumber() == 0 : how.equals("partition:" + tc.partitionId());
    }

    /**
     * The stream created for the file, or, where its write is refused, the start of the file left as a task that died
     * writing it would leave it, and a failure.
     */
    static FSDataOutputStream checked(FSDataOutputStream created, Configuration conf, Path file) throws IOException {
        if (!refused(conf, file)) {
            return created;
        }
        try (OutputStream o = created) {
            o.write("the start of a part".getBytes(StandardCharsets.UTF_8));
        }
        REFUSED.incrementAndGet();
        throw new IOException(file.getName() + ": write refused by the storage (a test's file system)");
    }
}
