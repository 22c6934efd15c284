package dev.wudi.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.checkpoint.TaskCheckpoints;
import dev.wudi.format.SafetensorsFile;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.DistributedFileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.hdfs.protocol.HdfsConstants;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code wudi-spark merge} with its inputs, output and parts on a real HDFS (a NameNode and a DataNode in this JVM,
 * Hadoop's MiniDFSCluster), against {@code wudi merge} of the same checkpoints as local files: the same bytes, the
 * tasks reading only the headers and the tensors they merge, nothing left behind on HDFS or on the driver's disk; an
 * existing output kept without --force; a job whose upload failed resumed from its parts on HDFS.
 */
class SparkHdfsTest {

    @TempDir
    static Path dir;
    static MiniDFSCluster hdfs;
    static FileSystem fs;
    static String root;

    @BeforeAll
    static void cluster() throws Exception {
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, dir.resolve("dfs").toString());
        hdfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        fs = hdfs.getFileSystem();
        root = hdfs.getURI().toString();
        TaskCheckpoints.writeFilesAndFolders(dir, SparkMergeTest.NAMES, SparkMergeTest.SHAPES, 100);
        for (int m = 0; m <= 3; m++) {
            Path folder = dir.resolve("f" + m);
            fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(dir.resolve("m" + m + ".safetensors").toUri()),
                    new org.apache.hadoop.fs.Path("/models/m" + m + ".safetensors"));
            fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(folder.toUri()),
                    new org.apache.hadoop.fs.Path("/models/f" + m));
        }
    }

    @AfterAll
    static void stop() {
        if (hdfs != null) {
            hdfs.shutdown();
        }
    }

    private static List<String> args(boolean folder, String local, String remoteOut, String... options) {
        List<String> a = new ArrayList<>(List.of("merge", "--base", input(folder, local == null, 0)));
        for (int m = 1; m <= 3; m++) {
            a.addAll(List.of("--model", input(folder, local == null, m)));
        }
        a.addAll(List.of("--out", local != null ? dir.resolve(local).toString() : root + remoteOut, "--device", "cpu",
                "--threads", "1"));
        a.addAll(List.of(options));
        return a;
    }

    private static String input(boolean folder, boolean remote, int m) {
        String name = folder ? "f" + m : "m" + m + ".safetensors";
        return remote ? root + "/models/" + name : dir.resolve(name).toString();
    }

    private static List<String> spark(List<String> a, String... more) {
        List<String> b = new ArrayList<>(a);
        b.addAll(List.of("--master", "local[2]", "--staging-dir", dir.resolve("staging").toString()));
        b.addAll(List.of(more));
        return b;
    }

    private static byte[] read(String path) throws IOException {
        try (InputStream in = fs.open(new org.apache.hadoop.fs.Path(path))) {
            return in.readAllBytes();
        }
    }

    /** What HDFS holds in a folder, and the driver's staging folder: only the outputs, nothing half-done. */
    private static void nothingLeftBehind(String folder, String... outputs) throws IOException {
        List<String> names = new ArrayList<>();
        for (FileStatus s : fs.listStatus(new org.apache.hadoop.fs.Path(folder))) {
            names.add(s.getPath().getName());
        }
        names.sort(null);
        List<String> expected = new ArrayList<>(Arrays.asList(outputs));
        expected.sort(null);
        assertEquals(expected, names, "no parts, no temporary upload left on HDFS");
        try (Stream<Path> s = Files.list(dir.resolve("staging"))) {
            assertEquals(List.of(), s.toList(), "the driver's staging folder is emptied");
        }
    }

    @Test
    void aMergeOnHdfsIsByteIdenticalAndEachTaskReadsOnlyItsTensors() throws Exception {
        SparkMergeTest.Run one = SparkMergeTest.run(false, args(false, "one.safetensors", null, "--iters", "5", "--lr",
                "1e-3", "--quiet"));
        assertEquals(0, one.exit(), one.err());
        SparkMergeTest.Run r = SparkMergeTest.run(true, spark(args(false, null, "/o1/adam.safetensors", "--iters",
                "5", "--lr", "1e-3", "--report", root + "/o1/report.json"), "--tasks", "3"));
        assertEquals(0, r.exit(), r.err());
        assertArrayEquals(Files.readAllBytes(dir.resolve("one.safetensors")), read("/o1/adam.safetensors"));
        assertTrue(r.err().contains("uploading the output to " + root + "/o1/adam.safetensors"), r.err());

        // what each side read from HDFS, to the byte: every header once per task; the check's tasks every tensor once,
        // the merge's tasks the five 2-D weights of the base and the three models, the driver the base's 1-D tensors
        // (kept from the base by --rest base)
        long headers = 0;
        long all = 0;
        long weights = 0;
        long baseRest = 0;
        for (int m = 0; m <= 3; m++) {
            Path f = dir.resolve("m" + m + ".safetensors");
            ByteBuffer len = ByteBuffer.wrap(Arrays.copyOf(Files.readAllBytes(f), 8)).order(ByteOrder.LITTLE_ENDIAN);
            headers += 8 + len.getLong();
            all += Files.size(f) - (8 + len.getLong(0));
            try (SafetensorsFile sf = SafetensorsFile.open(f)) {
                weights += sf.tensors().stream().filter(t -> t.shape().length == 2).mapToLong(t -> t.byteSize()).sum();
                if (m == 0) {
                    baseRest = sf.tensors().stream().filter(t -> t.shape().length == 1).mapToLong(t -> t.byteSize())
                            .sum();
                }
            }
        }
        Matcher check = Pattern.compile("checking the inputs: 8 tensors in (\\d+) tasks.*\n(?s).*checked the inputs in"
                + " [0-9.]+ s; the tasks read (\\d+) bytes").matcher(r.err());
        assertTrue(check.find(), r.err());
        assertEquals(Integer.parseInt(check.group(1)) * headers + all, Long.parseLong(check.group(2)),
                "the check: every tensor once");
        Matcher merge = Pattern.compile("wudi-spark: (\\d+) tensors in (\\d+) tasks on local").matcher(r.err());
        assertTrue(merge.find(), r.err());
        assertEquals(5, Integer.parseInt(merge.group(1)), "WUDI merges the five 2-D weights");
        Matcher read = Pattern.compile("the tasks read (\\d+) bytes \\([0-9.]+ MB\\) from remote storage: the headers,"
                + " and the tensors each merged").matcher(r.err());
        assertTrue(read.find(), r.err());
        assertEquals(Integer.parseInt(merge.group(2)) * headers + weights, Long.parseLong(read.group(1)),
                "the merge: its tensors once");
        Matcher driver = Pattern.compile("the driver read (\\d+) bytes").matcher(r.err());
        assertTrue(driver.find(), r.err());
        assertEquals(headers + baseRest, Long.parseLong(driver.group(1)), "the driver: headers and what it writes");
        String report = new String(read("/o1/report.json"), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(report.contains("\"l2.mlp.weight\""), "the report is uploaded too");
        // the report and the progress name the paths given, not the driver's copies (gone by then)
        assertTrue(report.contains(root + "/models/m1.safetensors") && !report.contains("wudi-spark-"), report);
        assertTrue(r.err().contains("-> " + root + "/o1/adam.safetensors"), r.err());
        nothingLeftBehind("/o1", "adam.safetensors", "report.json");
    }

    /**
     * A sharded folder in and out, HDFS refusing every task's first upload of its part (which leaves the start of the
     * part there, as a lost executor would): the same files.
     */
    @Test
    void shardedFoldersOnHdfsWithRetriedAttemptsAreByteIdentical() throws Exception {
        SparkMergeTest.Run one = SparkMergeTest.run(false, args(true, "one-folder", null, "--solver", "spectral",
                "--shard-size", "4KB", "--quiet"));
        assertEquals(0, one.exit(), one.err());
        int before = RefusedParts.REFUSED.get();
        List<String> a = spark(args(true, null, "/o2/folder", "--solver", "spectral", "--shard-size", "4KB",
                "--quiet"), "--tasks", "2");
        a.set(a.indexOf("local[2]"), "local[2,2]");
        a.addAll(RefusedParts.settings("hdfs", RefusingHdfs.class, "first-attempts"));
        SparkMergeTest.Run r = SparkMergeTest.run(true, a);
        assertEquals(0, r.exit(), r.err());
        assertEquals(2, RefusedParts.REFUSED.get() - before, "both tasks' first attempts failed");
        try (Stream<Path> s = Files.list(dir.resolve("one-folder"))) {
            List<Path> files = s.sorted().toList();
            assertTrue(files.size() > 3, "a sharded folder: " + files);
            for (Path p : files) {
                String name = p.getFileName().toString();
                if (!name.equals("README.md")) {               // the model card quotes the command, which differs
                    assertArrayEquals(Files.readAllBytes(p), read("/o2/folder/" + name), name);
                }
            }
            assertEquals(files.size(), fs.listStatus(new org.apache.hadoop.fs.Path("/o2/folder")).length);
            String card = new String(read("/o2/folder/README.md"), java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(card.contains(root + "/models/f2") && !card.contains("wudi-spark-"), "the model card names"
                    + " the inputs given: " + card);
        }
        nothingLeftBehind("/o2", "folder");
    }

    /**
     * A fine-tune with a task head the base lacks: the head is saved under heads/, and its metadata names the model as
     * given (hdfs://...), not the driver's copy.
     */
    @Test
    void aTaskHeadNamesItsModelAsGiven() throws Exception {
        Path folder = Files.createDirectories(dir.resolve("fh"));
        List<dev.wudi.format.SafetensorsWriter.TensorSpec> specs = new ArrayList<>();
        try (SafetensorsFile f1 = SafetensorsFile.open(dir.resolve("f1/model.safetensors"))) {
            f1.tensors().forEach(t -> specs.add(new dev.wudi.format.SafetensorsWriter.TensorSpec(t.name(), t.dtype(),
                    t.shape())));
            specs.add(new dev.wudi.format.SafetensorsWriter.TensorSpec("score.weight", dev.wudi.format.DType.F32,
                    new long[] {2, 32}));
            try (dev.wudi.format.SafetensorsWriter w = dev.wudi.format.SafetensorsWriter.create(
                    folder.resolve("model.safetensors"), specs, java.util.Map.of())) {
                for (dev.wudi.format.TensorInfo t : f1.tensors()) {
                    ByteBuffer b = ByteBuffer.allocate((int) t.byteSize());
                    f1.readBytes(t, 0, b);
                    w.write(b.flip());
                }
                float[] head = new float[64];
                Arrays.fill(head, 0.25f);
                w.writeFloats(head, 0, head.length);
                w.finish();
            }
        }
        Files.copy(dir.resolve("f1/config.json"), folder.resolve("config.json"));
        fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(folder.toUri()), new org.apache.hadoop.fs.Path("/models/fh"));
        SparkMergeTest.Run r = SparkMergeTest.run(true, spark(List.of("merge", "--base", root + "/models/f0",
                "--model", root + "/models/f2", "--model", root + "/models/fh", "--out", root + "/o4/merged",
                "--iters", "3", "--device", "cpu", "--quiet")));
        assertEquals(0, r.exit(), r.err());
        byte[] head = read("/o4/merged/heads/model-2.safetensors");
        Path local = dir.resolve("head-2.safetensors");
        Files.write(local, head);
        try (SafetensorsFile f = SafetensorsFile.open(local)) {
            assertEquals(root + "/models/fh", f.metadata().get("wudi_source_model"));
            float[] v = new float[64];
            f.readFloats(f.tensor("score.weight"), 0, v, 0, 64);
            assertEquals(0.25f, v[63]);
        }
        nothingLeftBehind("/o4", "merged");
    }

    @Test
    void anExistingOutputIsKeptWithoutForceAndAStoppedJobResumesFromItsPartsOnHdfs() throws Exception {
        try (var o = fs.create(new org.apache.hadoop.fs.Path("/o3/kept.safetensors"))) {
            o.write("someone's file".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        SparkMergeTest.Run refused = SparkMergeTest.run(true, spark(args(false, null, "/o3/kept.safetensors")));
        assertEquals(2, refused.exit(), refused.err());
        assertTrue(refused.err().contains("already exists; pass --force"), refused.err());
        assertArrayEquals("someone's file".getBytes(java.nio.charset.StandardCharsets.UTF_8),
                read("/o3/kept.safetensors"));
        assertFalse(fs.exists(new org.apache.hadoop.fs.Path("/o3/kept.safetensors.wudi-spark-parts")),
                "refused before any work");

        SparkMergeTest.Run missing = SparkMergeTest.run(true, spark(List.of("merge", "--base", root + "/models/no",
                "--model", root + "/models/m1.safetensors", "--out", root + "/o3/x.safetensors")));
        assertEquals(1, missing.exit(), missing.err());
        assertTrue(missing.err().contains(root + "/models/no: no such file or folder"), missing.err());
        SparkMergeTest.Run twice = SparkMergeTest.run(true, spark(List.of("merge", "--base", root
                + "/models/m0.safetensors", "--model", root + "/models/m1.safetensors", "--model", root
                + "//models/m1.safetensors", "--out", root + "/o3/x.safetensors")));
        assertEquals(2, twice.exit(), twice.err());
        assertTrue(twice.err().contains("is given twice"), twice.err());
        SparkMergeTest.Run config = SparkMergeTest.run(true, spark(List.of("merge", "--config", root + "/c.yml",
                "--out", root + "/o3/x.safetensors")));
        assertEquals(2, config.exit(), config.err());
        assertTrue(config.err().contains("a mergekit config is read on the driver"), config.err());
        assertFalse(fs.exists(new org.apache.hadoop.fs.Path("/o3/x.safetensors")));
        // a bad input is named as given, not as the driver's copy of it
        byte[] bad = Files.readAllBytes(dir.resolve("m2.safetensors"));
        long dataStart = 8 + ByteBuffer.wrap(bad, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        try (SafetensorsFile sf = SafetensorsFile.open(dir.resolve("m2.safetensors"))) {
            ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putFloat(
                    (int) (dataStart + sf.tensor("l1.mlp.weight").begin()), Float.NaN);
        }
        try (var o = fs.create(new org.apache.hadoop.fs.Path("/models/nan.safetensors"))) {
            o.write(bad);
        }
        SparkMergeTest.Run nan = SparkMergeTest.run(true, spark(List.of("merge", "--base", root
                + "/models/m0.safetensors", "--model", root + "/models/m1.safetensors", "--model", root
                + "/models/nan.safetensors", "--out", root + "/o3/x.safetensors")));
        assertEquals(1, nan.exit(), nan.err());
        assertTrue(nan.err().contains("tensor l1.mlp.weight in " + root + "/models/nan.safetensors holds NaN"),
                nan.err());
        assertTrue(nan.err().lines().filter(l -> l.startsWith("wudi: ")).noneMatch(l -> l.contains("wudi-spark-")),
                "the merge's own lines name no copy: " + nan.err());
        // a plan reads only the headers: the inputs are mirrored without their tensors, whose reads would fail by name
        SparkMergeTest.Run plan = SparkMergeTest.run(true, spark(args(true, null, "/o3/planned", "--dry-run")));
        assertEquals(0, plan.exit(), plan.err());
        assertFalse(plan.err().contains("checking the inputs"), "a plan reads no value: " + plan.err());
        assertFalse(fs.exists(new org.apache.hadoop.fs.Path("/o3/planned")));

        // the upload refused (a folder at its namespace quota: nothing more fits in it): the parts are kept
        org.apache.hadoop.fs.Path full = new org.apache.hadoop.fs.Path("/o3/full");
        fs.mkdirs(full);
        ((DistributedFileSystem) fs).setQuota(full, 1, HdfsConstants.QUOTA_DONT_SET);
        List<String> a = spark(args(false, null, "/o3/full/resumed.safetensors", "--iters", "5", "--lr", "1e-3"),
                "--parts-dir", root + "/o3/parts");
        SparkMergeTest.Run first = SparkMergeTest.run(true, a);
        assertEquals(1, first.exit(), first.err());
        assertTrue(first.err().contains("quota"), first.err());
        assertTrue(fs.exists(new org.apache.hadoop.fs.Path("/o3/parts")), "the parts are kept for --resume");
        assertFalse(fs.exists(new org.apache.hadoop.fs.Path("/o3/full/resumed.safetensors")));
        ((DistributedFileSystem) fs).setQuota(full, HdfsConstants.QUOTA_RESET, HdfsConstants.QUOTA_DONT_SET);
        List<String> again = new ArrayList<>(a);
        again.add("--resume");
        SparkMergeTest.Run resumed = SparkMergeTest.run(true, again);
        assertEquals(0, resumed.exit(), resumed.err());
        assertTrue(resumed.err().contains("--resume: 5 of 5 tensors were computed by an earlier run"), resumed.err());
        // the inputs are checked again (as wudi merge --resume does), nothing is merged again
        assertTrue(resumed.err().contains("checking the inputs"), resumed.err());
        assertFalse(Pattern.compile("wudi-spark: \\d+ tensors in").matcher(resumed.err()).find(),
                "no tensor merged again: " + resumed.err());
        SparkMergeTest.Run one = SparkMergeTest.run(false, args(false, "resumed-one.safetensors", null, "--iters", "5",
                "--lr", "1e-3", "--quiet"));
        assertEquals(0, one.exit(), one.err());
        assertArrayEquals(Files.readAllBytes(dir.resolve("resumed-one.safetensors")),
                read("/o3/full/resumed.safetensors"));
        SparkMergeTest.Run complete = SparkMergeTest.run(true, again);
        assertEquals(0, complete.exit(), complete.err());
        assertTrue(complete.err().contains("is complete; nothing to resume"), complete.err());

        // --force replaces the file that was kept
        SparkMergeTest.Run forced = SparkMergeTest.run(true, spark(args(false, null, "/o3/kept.safetensors", "--iters",
                "5", "--lr", "1e-3", "--force")));
        assertEquals(0, forced.exit(), forced.err());
        assertArrayEquals(Files.readAllBytes(dir.resolve("resumed-one.safetensors")), read("/o3/kept.safetensors"));
        nothingLeftBehind("/o3/full", "resumed.safetensors");
        nothingLeftBehind("/o3", "kept.safetensors", "full");
    }
}
