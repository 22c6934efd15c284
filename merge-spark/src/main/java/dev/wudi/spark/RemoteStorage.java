package dev.wudi.spark;

import dev.wudi.format.PartialCopies;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import dev.wudi.spec.OptionTable;
import dev.wudi.spec.SpecText;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Storage reached through Hadoop's FileSystem: HDFS ({@code hdfs://}), S3 ({@code s3a://}, with hadoop-aws on the
 * class path), Azure, GCS, or {@code file://}; whatever the cluster's Hadoop configuration (core-site.xml, and Spark's
 * {@code spark.hadoop.*} settings) can open. The engine reads memory-mapped local files, so remote checkpoints are
 * copied, as little as each side reads: the headers, and the tensors a task checks or merges, or the driver writes
 * itself ({@link TaskCopies}); adapter folders and companion files whole ({@link #copyIn}). Outputs are written
 * locally and published under a temporary name, then renamed ({@link #publish}).
 */
final class RemoteStorage implements java.io.Serializable {

    private static final long serialVersionUID = 1L;

    /** Bytes per positioned read: large enough for HDFS and S3 throughput, small enough for any heap. */
    static final int CHUNK = 8 << 20;

    /** Weight formats this engine does not read: not copied from a remote folder (they can be many GB). */
    private static final List<String> OTHER_WEIGHTS = List.of(".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack",
            ".onnx", ".gguf", ".ot");

    private final Map<String, String> settings;
    private transient Configuration conf;

    /** @param settings Hadoop settings over the defaults (and the cluster's core-site.xml), key to value */
    RemoteStorage(Map<String, String> settings) {
        this.settings = Map.copyOf(settings);
    }

    /** The Hadoop settings of a Spark configuration: {@code spark.hadoop.K=V} as {@code K=V}, as Spark passes them. */
    static Map<String, String> settings(org.apache.spark.SparkConf spark) {
        Map<String, String> out = new HashMap<>();
        for (scala.Tuple2<String, String> kv : spark.getAll()) {
            if (kv._1().startsWith("spark.hadoop.")) {
                out.put(kv._1().substring("spark.hadoop.".length()), kv._2());
            }
        }
        return out;
    }

    /** Whether a path as given names remote storage: a URI with a scheme, {@code scheme://...}. */
    static boolean isRemote(String path) {
        return path != null && path.matches("[A-Za-z][A-Za-z0-9+.-]*://.*");
    }

    Configuration conf() {
        if (conf == null) {
            Configuration c = new Configuration();
            settings.forEach(c::set);
            conf = c;
        }
        return conf;
    }

    /** The file system of a path; for local files the raw one, which writes no .crc files beside them. */
    FileSystem fs(Path p) throws IOException {
        FileSystem fs = p.getFileSystem(conf());
        return fs instanceof LocalFileSystem local ? local.getRaw() : fs;
    }

    /** The status of a path, or null where nothing is there. */
    FileStatus status(String uri) throws IOException {
        Path p = new Path(uri);
        try {
            return fs(p).getFileStatus(p);
        } catch (FileNotFoundException e) {
            return null;
        }
    }

    /** The path fully qualified (scheme, authority, normalised), to compare two spellings of one place. */
    String qualified(String uri) throws IOException {
        Path p = new Path(uri);
        return fs(p).makeQualified(p).toString();
    }

    /**
     * Copies a remote checkpoint whole to {@code to}: a file, or a folder's files (not its sub-folders, nor weights
     * of other formats). Returns the bytes copied.
     */
    long copyIn(String uri, java.nio.file.Path to) throws IOException {
        Path src = new Path(uri);
        FileSystem fs = fs(src);
        FileStatus st = fs.getFileStatus(src);
        if (st.isFile()) {
            download(fs, src, to);
            return st.getLen();
        }
        Files.createDirectories(to);
        long bytes = 0;
        for (FileStatus c : fs.listStatus(src)) {
            if (c.isFile() && !otherWeights(c.getPath().getName())) {
                download(fs, c.getPath(), to.resolve(c.getPath().getName()));
                bytes += c.getLen();
            }
        }
        return bytes;
    }

    private void download(FileSystem fs, Path src, java.nio.file.Path to) throws IOException {
        Files.createDirectories(to.toAbsolutePath().getParent());
        fs.copyToLocalFile(false, src, new Path(to.toAbsolutePath().toUri()), true);
    }

    static boolean otherWeights(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return OTHER_WEIGHTS.stream().anyMatch(n::endsWith);
    }

    /**
     * Puts a local file or folder at {@code uri}: uploaded beside it under a temporary name, then renamed, so that the
     * name never holds a half-written output. An existing {@code uri} is replaced only if {@code replace}. (On HDFS the
     * rename is atomic; S3A renames by copying, so there a reader may see the folder fill during the rename.)
     */
    void publish(java.nio.file.Path local, String uri, boolean replace) throws IOException {
        Path dst = new Path(uri);
        FileSystem fs = fs(dst);
        Path tmp = new Path(dst.getParent(), "." + dst.getName() + ".wudi-upload-" + UUID.randomUUID());
        try {
            fs.copyFromLocalFile(false, true, new Path(local.toAbsolutePath().toUri()), tmp);
            if (fs.exists(dst)) {
                if (!replace) {
                    throw new IOException(uri + " appeared while the merge ran; pass --force to replace it");
                }
                fs.delete(dst, true);
            }
            if (!fs.rename(tmp, dst)) {
                throw new IOException("could not rename " + tmp + " to " + uri);
            }
        } catch (IOException | RuntimeException e) {
            try {
                fs.delete(tmp, true);
            } catch (IOException ignored) {
                // the upload's own failure is the one to report
            }
            throw e;
        }
    }

    /**
     * A task's local copies of remote checkpoints: every safetensors file as a sparse file of its remote size holding
     * its header ({@link #mirror}), then the bytes of the tensors the task merges ({@link #fill}). Each copy is a
     * registered {@link PartialCopies partial copy}, so a read of any other tensor fails by name instead of reading a
     * hole's zeros. Other files (config, tokenizer) and LoRA adapter folders are copied whole.
     */
    static final class TaskCopies implements AutoCloseable {
        private final RemoteStorage storage;
        /** Local partial copy -> its remote file and where its data area starts. */
        private final Map<java.nio.file.Path, Remote> remoteOf = new LinkedHashMap<>();
        private long fetched;

        private record Remote(Path path, long dataStart) {
        }

        TaskCopies(RemoteStorage storage) {
            this.storage = storage;
        }

        /**
         * A merge on local stand-ins for its remote paths.
         *
         * @param merge  the merge, each remote path replaced by its stand-in
         * @param copies each remote path given and its stand-in, in the merge's order of paths
         * @param names  each stand-in's path -> the remote path as given (for {@link StagedNames})
         */
        record Localised(SpecText merge, List<Copy> copies, Map<String, String> names) {
        }

        /** A remote path as given (which option, its text) and the local path standing in for it. */
        record Copy(SpecText.Place given, String local) {
        }

        /**
         * The merge with each remote input replaced by a mirror of it under {@code work} (headers now, tensors after
         * {@link #fill}) and each remote output by a local name under {@code work} (nothing is written there here).
         * "OUT/" keeps its slash: it names a folder, as in {@code wudi merge}.
         */
        Localised localise(SpecText merge, java.nio.file.Path work) throws IOException {
            List<Copy> copies = new ArrayList<>();
            List<String> texts = new ArrayList<>();
            Map<String, String> names = new LinkedHashMap<>();
            List<SpecText.Place> paths = merge.paths();
            for (int i = 0; i < paths.size(); i++) {
                SpecText.Place p = paths.get(i);
                if (!isRemote(p.text())) {
                    texts.add(p.text());
                    continue;
                }
                boolean input = p.option() == OptionTable.BASE || p.option() == OptionTable.MODEL;
                java.nio.file.Path to = work.resolve((input ? "in-" : "out-") + i)
                        .resolve(new Path(p.text()).getName());
                if (input) {
                    mirror(p.text(), to);
                }
                String local = to + (p.text().endsWith("/") ? "/" : "");
                copies.add(new Copy(p, local));
                texts.add(local);
                names.put(to.toString(), p.text().replaceAll("/+$", ""));
            }
            return new Localised(merge.withPaths(texts), copies, names);
        }

        /** Mirrors a remote checkpoint (file or folder) at {@code to}: headers only for its safetensors files. */
        void mirror(String uri, java.nio.file.Path to) throws IOException {
            Path src = new Path(uri);
            FileSystem fs = storage.fs(src);
            FileStatus st = fs.getFileStatus(src);
            if (st.isFile()) {
                mirrorFile(fs, st, to);
                return;
            }
            if (fs.exists(new Path(src, "adapter_config.json"))) {
                fetched += storage.copyIn(uri, to);            // an adapter is small, and read as factors: whole
                return;
            }
            Files.createDirectories(to);
            for (FileStatus c : fs.listStatus(src)) {
                String name = c.getPath().getName();
                if (!c.isFile() || otherWeights(name)) {
                    continue;
                }
                if (name.endsWith(".safetensors")) {
                    mirrorFile(fs, c, to.resolve(name));
                } else {
                    storage.download(fs, c.getPath(), to.resolve(name));
                    fetched += c.getLen();
                }
            }
        }

        private void mirrorFile(FileSystem fs, FileStatus st, java.nio.file.Path to) throws IOException {
            Files.createDirectories(to.toAbsolutePath().getParent());
            long size = st.getLen();
            long n = -1;
            try (FSDataInputStream in = fs.open(st.getPath())) {
                byte[] len = new byte[8];
                if (size >= 8) {
                    in.readFully(0, len);
                    n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
                }
                if (n < 0 || n > Math.min(size - 8, 100_000_000L)) {
                    // not a safetensors header: copied whole, for the reader to say what is wrong with it
                    storage.download(fs, st.getPath(), to);
                    fetched += size;
                    return;
                }
                byte[] header = new byte[(int) n];
                in.readFully(8, header);
                try (RandomAccessFile out = new RandomAccessFile(to.toFile(), "rw")) {
                    out.write(len);
                    out.write(header);
                    out.setLength(size);                        // the rest is a hole until fill()
                }
                fetched += 8 + n;
            }
            java.nio.file.Path key = to.toAbsolutePath().normalize();
            remoteOf.put(key, new Remote(st.getPath(), 8 + n));
            PartialCopies.register(key, Set.of());              // no tensor yet: any read before fill() fails
        }

        /**
         * Fetches the named tensors of each local copy (as {@link dev.wudi.merge.Merger#sourcesOf} lists them) with
         * positioned reads, adjacent tensors in one run of reads, and registers what each copy now holds.
         */
        void fill(Map<java.nio.file.Path, Set<String>> need) throws IOException {
            for (Map.Entry<java.nio.file.Path, Set<String>> e : need.entrySet()) {
                java.nio.file.Path local = e.getKey().toAbsolutePath().normalize();
                Remote remote = remoteOf.get(local);
                if (remote == null) {
                    continue;                                   // a local input, or a file copied whole
                }
                List<long[]> ranges = new ArrayList<>();
                try (SafetensorsFile f = SafetensorsFile.open(local)) {
                    for (String name : e.getValue()) {
                        TensorInfo t = f.tensor(name);
                        ranges.add(new long[] {remote.dataStart() + t.begin(), remote.dataStart() + t.end()});
                    }
                }
                ranges.sort(Comparator.comparingLong(r -> r[0]));
                FileSystem fs = storage.fs(remote.path());
                byte[] buf = new byte[CHUNK];
                try (FSDataInputStream in = fs.open(remote.path());
                     FileChannel out = FileChannel.open(local, StandardOpenOption.WRITE)) {
                    long doneTo = -1;
                    for (long[] r : ranges) {
                        for (long at = Math.max(r[0], doneTo); at < r[1]; ) {
                            int n = (int) Math.min(buf.length, r[1] - at);
                            in.readFully(at, buf, 0, n);
                            ByteBuffer b = ByteBuffer.wrap(buf, 0, n);
                            for (long pos = at; b.hasRemaining(); ) {
                                pos += out.write(b, pos);
                            }
                            at += n;
                            fetched += n;
                        }
                        doneTo = Math.max(doneTo, r[1]);
                    }
                }
                PartialCopies.register(local, e.getValue());
            }
        }

        /** How many remote safetensors files are mirrored here. */
        int mirrored() {
            return remoteOf.size();
        }

        /** Bytes read from remote storage so far (headers, tensors, whole files). */
        long fetched() {
            return fetched;
        }

        @Override
        public void close() {
            remoteOf.keySet().forEach(PartialCopies::forget);
        }
    }
}
