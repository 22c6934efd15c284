package dev.wudi.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.checkpoint.TaskCheckpoints;
import dev.wudi.cli.Main;
import dev.wudi.spec.SpecText;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code wudi-spark merge --master local[2]} against {@code wudi merge} with the same options, in this JVM (Spark's
 * local mode: the driver and two executor threads): the same bytes for WUDI with every solver and for the
 * element-wise methods, for a single file and a sharded folder; failed attempts retried; a job stopped after its
 * executors finished, or one that failed part-way, resumes from their parts; options that cannot work are refused
 * before Spark starts.
 */
class SparkMergeTest {

    @TempDir
    static Path dir;
    static final String[] NAMES = {"l0.attn.weight", "l0.attn.bias", "l0.mlp.weight", "l0.norm.weight",
        "l1.attn.weight", "l1.mlp.weight", "l1.norm.weight", "l2.mlp.weight"};
    static final long[][] SHAPES = {{24, 32}, {24}, {48, 32}, {32}, {24, 32}, {16, 48}, {32}, {40, 24}};

    @BeforeAll
    static void checkpoints() throws Exception {
        TaskCheckpoints.writeFilesAndFolders(dir, NAMES, SHAPES, 100);
    }

    record Run(int exit, String err) {
    }

    /** The last wudi-spark run of {@link #same}. */
    static Run lastRun;

    private static List<String> mergeArgs(boolean folder, String out, String... options) {
        return mergeArgs(3, folder, out, options);
    }

    private static List<String> mergeArgs(int models, boolean folder, String out, String... options) {
        List<String> a = new ArrayList<>(List.of("merge", "--base",
                dir.resolve(folder ? "f0" : "m0.safetensors").toString()));
        for (int m = 1; m <= models; m++) {
            a.addAll(List.of("--model", dir.resolve(folder ? "f" + m : "m" + m + ".safetensors").toString()));
        }
        a.addAll(List.of("--out", dir.resolve(out).toString(), "--device", "cpu", "--threads", "1", "--quiet"));
        a.addAll(List.of(options));
        return a;
    }

    static synchronized Run run(boolean spark, List<String> args) {
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            int code = spark ? WudiSpark.execute(args.toArray(String[]::new)) : Main.execute(args.toArray(String[]::new));
            return new Run(code, buf.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(err);
        }
    }

    private static List<String> with(List<String> a, String... more) {
        List<String> b = new ArrayList<>(a);
        b.addAll(List.of(more));
        return b;
    }

    /** wudi merge and wudi-spark merge with these options give the same bytes (every file, for a folder). */
    private static void same(boolean folder, String tag, String... options) throws Exception {
        same(3, folder, tag, List.of("--master", "local[2]"), options);
    }

    /** @param sparkOnly the options of wudi-spark alone (--master, --spark-conf) */
    private static void same(int models, boolean folder, String tag, List<String> sparkOnly, String... options)
            throws Exception {
        String one = folder ? tag + "-one" : tag + "-one.safetensors";
        String spark = folder ? tag + "-spark" : tag + "-spark.safetensors";
        Run a = run(false, mergeArgs(models, folder, one, options));
        assertEquals(0, a.exit(), tag + ": " + a.err());
        List<String> loud = new ArrayList<>(mergeArgs(models, folder, spark, options));
        loud.remove("--quiet");                          // its lines say that Spark ran the tasks
        loud.addAll(sparkOnly);
        Run b = run(true, with(loud, "--tasks", "3"));
        lastRun = b;
        assertEquals(0, b.exit(), b.err());
        assertTrue(b.err().contains(" tasks on local["), b.err());
        assertTrue(b.err().contains("wudi-spark: 3/3 tasks done ("), "a line per finished task: " + b.err());
        if (!folder) {
            assertArrayEquals(Files.readAllBytes(dir.resolve(one)), Files.readAllBytes(dir.resolve(spark)), tag);
        } else {
            try (Stream<Path> s = Files.list(dir.resolve(one))) {
                List<Path> files = s.sorted().toList();
                assertTrue(files.size() > 3, "a sharded folder: " + files);
                for (Path p : files) {
                    String name = p.getFileName().toString();
                    if (name.equals("README.md")) {     // the model card quotes the command as typed
                        assertTrue(Files.readString(p).contains("wudi merge "), name);
                        assertTrue(Files.readString(dir.resolve(spark).resolve(name)).contains("wudi-spark merge "),
                                "the card of a Spark merge names wudi-spark");
                        continue;
                    }
                    assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(dir.resolve(spark).resolve(name)),
                            tag + ": " + name);
                }
            }
        }
        assertFalse(Files.exists(dir.resolve(spark + ".wudi-spark-parts")), "the parts are removed after the merge");
    }

    @Test
    void wudiWithEverySolverIsByteIdenticalToWudiMerge() throws Exception {
        same(false, "adam", "--iters", "5", "--lr", "1e-3");
        same(false, "spectral", "--solver", "spectral");
        same(false, "flow", "--solver", "flow");
        same(false, "exact", "--solver", "exact");
        same(false, "ridge", "--solver", "exact", "--ridge", "0.01");
    }

    @Test
    void everyOtherMethodAndShardedFoldersAreByteIdentical() throws Exception {
        for (String method : List.of("task-arithmetic", "average", "ties", "dare-linear", "dare-ties", "breadcrumbs",
                "breadcrumbs-ties", "della", "della-linear", "slerp", "nuslerp", "model-stock")) {
            int models = method.equals("slerp") ? 1 : method.equals("nuslerp") ? 2 : 3;
            List<String> o = new ArrayList<>(List.of("--method", method));
            if (method.startsWith("dare") || method.startsWith("della") || method.startsWith("breadcrumbs")) {
                o.addAll(List.of("--density", "0.5"));
            }
            if (method.equals("slerp")) {
                o.addAll(List.of("--t", "0.4"));
            }
            same(models, false, method, List.of("--master", "local[2]"), o.toArray(String[]::new));
        }
        same(true, "folder", "--iters", "5", "--lr", "1e-3", "--shard-size", "4KB");
    }

    /**
     * A task attempt that fails (here: the storage refuses every task's first write of its part's manifest, as a
     * failing disk would) is retried by Spark (local[2,2]: two threads, two attempts per task), each attempt in its
     * own part file: the output is still the one-process merge's bytes.
     */
    @Test
    void failedAttemptsAreRetriedWithoutCorruptingTheOutput() throws Exception {
        int before = RefusedParts.REFUSED.get();
        List<String> spark = new ArrayList<>(List.of("--master", "local[2,2]"));
        spark.addAll(RefusedParts.settings("file", RefusingLocalFileSystem.class, "first-attempts"));
        same(3, false, "retried", spark, "--iters", "5", "--lr", "1e-3");
        assertEquals(3, RefusedParts.REFUSED.get() - before, "every task's first attempt failed and was retried");
        assertEquals(3, lastRun.err().split("did not finish", -1).length - 1, "each failed attempt is said: "
                + lastRun.err());
    }

    /**
     * Speculative execution runs a second attempt of a slow task beside the first (on another host, so Spark's local
     * mode never does). Here the same group is dealt twice in one local[2] job, so two attempts of it run at once: each
     * writes its own part and manifest, the parts hold the same bytes, the manifests give every tensor one complete
     * part, and cleaning up removes both.
     */
    @Test
    void twoAttemptsOfOneGroupAtOnceWriteSeparatePartsOfTheSameBytes() throws Exception {
        List<String> line = mergeArgs(false, "twice.safetensors", "--iters", "3");
        SpecText merge = text(line);
        Path folder = dir.resolve("twice-parts");
        PartsStore parts = new PartsStore(folder.toString(), new RemoteStorage(Map.of()));
        parts.create();
        List<String> names = List.of("l0.attn.weight", "l2.mlp.weight");
        TensorGroups.Group g = new TensorGroups.Group(0, names, 1.0);
        Map<String, String> fingerprint = Map.of("--lr", "1e-5");
        List<PartTask.Result> r;
        try (org.apache.spark.api.java.JavaSparkContext sc = new org.apache.spark.api.java.JavaSparkContext(
                new org.apache.spark.SparkConf().setMaster("local[2]").setAppName("two attempts"))) {
            r = sc.parallelize(List.of(g, g), 2).map(new PartTask(merge, parts, fingerprint, "job")).collect();
        }
        assertFalse(r.get(0).part().equals(r.get(1).part()), "each attempt its own file: " + r);
        assertArrayEquals(Files.readAllBytes(folder.resolve(r.get(0).part())),
                Files.readAllBytes(folder.resolve(r.get(1).part())), "the same bytes");
        Map<String, PartTask.Result> found = parts.manifests(fingerprint);
        assertEquals(java.util.Set.copyOf(names), found.keySet());
        for (PartTask.Result x : found.values()) {
            assertTrue(x.part().equals(r.get(0).part()) || x.part().equals(r.get(1).part()), x.toString());
        }
        parts.clear();
        assertFalse(Files.exists(folder), "both parts and both manifests removed");
    }

    /** The merge a command line describes, as the driver gives it to the executors. */
    private static SpecText text(List<String> line) {
        SparkMergeCommand cmd = new SparkMergeCommand();
        dev.wudi.cli.MergeArgs.withOptions(new picocli.CommandLine(cmd)).parseArgs(
                line.subList(1, line.size()).toArray(String[]::new));              // without the subcommand's name
        return cmd.mergeArgs().text();
    }

    /**
     * A job stopped after its executors finished (here: another merge holds the output when the driver comes to write
     * it) keeps its parts; a resume with a setting that decides the output changed, or an input, is refused, naming
     * it; one with only where the work runs changed takes every part and runs no Spark job.
     */
    @Test
    void aJobStoppedAfterItsExecutorsResumesFromTheirParts() throws Exception {
        List<String> a = with(mergeArgs(false, "resumed.safetensors", "--iters", "5", "--lr", "1e-3"),
                "--master", "local[2]");
        a.remove("--quiet");
        Run first;
        try (FileChannel lock = FileChannel.open(dir.resolve(".resumed.safetensors.wudi-lock"),
                StandardOpenOption.CREATE, StandardOpenOption.WRITE); FileLock held = lock.lock()) {
            first = run(true, a);
        }
        assertEquals(1, first.exit(), first.err());
        assertTrue(first.err().contains("another wudi merge is writing"), first.err());
        assertTrue(first.err().contains("tasks on local[2]"), "the executors ran first: " + first.err());
        assertTrue(Files.isDirectory(dir.resolve("resumed.safetensors.wudi-spark-parts")), first.err());
        assertFalse(Files.exists(dir.resolve("resumed.safetensors")));
        List<String> otherLr = new ArrayList<>(a);
        otherLr.set(otherLr.indexOf("1e-3"), "2e-3");
        Run refused = run(true, with(otherLr, "--resume"));
        assertEquals(1, refused.exit(), refused.err());
        assertTrue(refused.err().contains("were computed for a different merge (--lr: 1e-3 then, 2e-3 now)"),
                refused.err());
        // so is one whose input changed since (here: its modification time)
        Path m2 = dir.resolve("m2.safetensors");
        FileTime then = Files.getLastModifiedTime(m2);
        Run touched;
        try {
            Files.setLastModifiedTime(m2, FileTime.fromMillis(then.toMillis() + 60_000));
            touched = run(true, with(a, "--resume"));
        } finally {
            Files.setLastModifiedTime(m2, then);
        }
        assertEquals(1, touched.exit(), touched.err());
        assertTrue(touched.err().contains("different merge (model 2: "), touched.err());
        assertFalse(Files.exists(dir.resolve("resumed.safetensors")));
        Run again = run(true, with(a, "--resume", "--tasks", "7"));
        assertEquals(0, again.exit(), again.err());
        assertTrue(again.err().contains("--resume: 5 of 5 tensors were computed by an earlier run"), again.err());
        assertFalse(again.err().contains("tasks on"), "no Spark job was needed: " + again.err());
        Run one = run(false, mergeArgs(false, "resumed-one.safetensors", "--iters", "5", "--lr", "1e-3"));
        assertEquals(0, one.exit(), one.err());
        assertArrayEquals(Files.readAllBytes(dir.resolve("resumed-one.safetensors")),
                Files.readAllBytes(dir.resolve("resumed.safetensors")));
        assertFalse(Files.exists(dir.resolve("resumed.safetensors.wudi-spark-parts")), "the parts are removed");
    }

    /**
     * A job that failed part-way (one task at a time, one attempt each, the second task's writes refused) keeps the
     * parts of the tasks that finished; the resume merges only the rest, in new parts that never take an earlier
     * part's name, and the output is the one-process merge's bytes.
     */
    @Test
    void aJobThatFailedPartWayResumesWithTheRest() throws Exception {
        List<String> a = with(mergeArgs(false, "partway.safetensors", "--iters", "5", "--lr", "1e-3"),
                "--master", "local[1]", "--tasks", "3");
        a.remove("--quiet");
        Run first = run(true, with(a, RefusedParts.settings("file", RefusingLocalFileSystem.class, "partition:1")
                .toArray(String[]::new)));
        assertEquals(1, first.exit(), first.err());
        assertTrue(first.err().contains("the Spark job failed") && first.err().contains("rerun with --resume"),
                first.err());
        Run again = run(true, with(a, "--resume"));
        assertEquals(0, again.exit(), again.err());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("--resume: (\\d) of 5 tensors were computed by an"
                + " earlier run").matcher(again.err());
        assertTrue(m.find(), again.err());
        int earlier = Integer.parseInt(m.group(1));
        assertTrue(earlier > 0 && earlier < 5, again.err());
        assertTrue(again.err().contains("wudi-spark: " + (5 - earlier) + " tensors in "), again.err());
        Run one = run(false, mergeArgs(false, "partway-one.safetensors", "--iters", "5", "--lr", "1e-3"));
        assertEquals(0, one.exit(), one.err());
        assertArrayEquals(Files.readAllBytes(dir.resolve("partway-one.safetensors")),
                Files.readAllBytes(dir.resolve("partway.safetensors")));
    }

    /** --parts-dir may name a folder that holds other things: only the parts are removed from it. */
    @Test
    void aGivenPartsFolderKeepsWhatElseItHolds() throws Exception {
        Path parts = Files.createDirectories(dir.resolve("shared-scratch"));
        Files.writeString(parts.resolve("notes.txt"), "someone else's");
        Run r = run(true, with(mergeArgs(false, "given-parts.safetensors", "--iters", "3"), "--master", "local[2]",
                "--parts-dir", parts.toString()));
        assertEquals(0, r.exit(), r.err());
        assertFalse(r.err().contains("wudi-spark:"), "--quiet: no progress lines: " + r.err());
        try (Stream<Path> s = Files.list(parts)) {
            assertEquals(List.of(parts.resolve("notes.txt")), s.toList(), "only the parts were removed");
        }
    }

    @Test
    void mistakesAreRefusedBeforeSparkStarts() {
        Run noMaster = run(true, mergeArgs(false, "x.safetensors"));
        assertEquals(2, noMaster.exit(), noMaster.err());
        assertTrue(noMaster.err().contains("no Spark master"), noMaster.err());
        Run badConf = run(true, with(mergeArgs(false, "x.safetensors"), "--master", "local[2]", "--spark-conf", "nokey"));
        assertEquals(2, badConf.exit(), badConf.err());
        assertTrue(badConf.err().contains("--spark-conf takes KEY=VALUE"), badConf.err());
        List<String> relative = mergeArgs(false, "unused.safetensors");
        relative.set(relative.indexOf("--out") + 1, "relative-out.safetensors");
        Run onACluster = run(true, with(relative, "--master", "spark://localhost:1"));
        assertEquals(2, onACluster.exit(), onACluster.err());
        assertTrue(onACluster.err().contains("on a cluster give every input and the output as an absolute path"),
                onACluster.err());
        assertFalse(Files.exists(Path.of("relative-out.safetensors")));
        assertFalse(Files.exists(Path.of("relative-out.safetensors.wudi-spark-parts")), "refused before any work");
        Run adapter = run(true, with(mergeArgs(false, "x.safetensors"), "--master", "local[2]", "--as-adapter"));
        assertEquals(2, adapter.exit(), adapter.err());
        assertTrue(adapter.err().contains("adapter folder in one process"), adapter.err());
        Run missing = run(true, List.of("merge", "--base", dir.resolve("nope.safetensors").toString(), "--model",
                dir.resolve("m1.safetensors").toString(), "--out", dir.resolve("x.safetensors").toString(),
                "--master", "local[2]"));
        assertTrue(missing.exit() != 0 && missing.err().contains("nope.safetensors"), missing.err());
        assertFalse(Files.exists(dir.resolve("x.safetensors")));
    }
}
