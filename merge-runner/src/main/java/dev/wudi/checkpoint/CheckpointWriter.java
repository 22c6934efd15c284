package dev.wudi.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Writes the merged checkpoint in the base's layout: one .safetensors file for a file, or a folder of
 * shards (+ index.json when there are several) with the base's companion files. Everything is written
 * under a temporary name beside the destination, `.NAME.wudi-partial`, and renamed into place only by
 * {@link #commit()}; a writer closed without commit leaves nothing behind, unless it was told to keep
 * a resumable partial ({@link #keepPartialOnClose()}).
 *
 * <p>The temporary name is the same for every run with the same destination, and a journal beside it
 * (`.NAME.wudi-journal`, see {@link OutputJournal}) records the merge's fingerprint and every tensor
 * completed on disk ({@link #tensorDone}), so a later run with the same fingerprint can truncate the
 * partial output to the last completed tensor and go on from there.
 *
 * Tensors are written sequentially, in the order of the specs given to {@link #create}.
 */
public final class CheckpointWriter implements AutoCloseable {

    private final Path out;
    private final boolean folder;
    private final Path tmp;
    private final ShardPlan plan;
    private final Map<String, String> metadata;
    private final List<Path> companions;
    private final OutputJournal journal;
    private final List<OutputJournal.Entry> resumed;

    private int shard = -1;
    private long shardBytesLeft;
    private SafetensorsWriter current;
    private boolean committed;
    private boolean keepPartial;
    /** Held from create to close: see lockPath. */
    private FileChannel lock;
    /** Writes the generated companion files (config.json, model card, heads) into the folder, at commit. */
    private FolderFiles generated;

    /** Files a merge writes into a folder output beside the weights (config.json, README.md, heads/). */
    @FunctionalInterface
    public interface FolderFiles {
        /** Writes them into dir, the temporary folder that commit then renames into place. */
        void writeInto(Path dir) throws IOException;
    }

    private CheckpointWriter(Path out, boolean folder, Path tmp, ShardPlan plan, Map<String, String> metadata,
                             List<Path> companions, OutputJournal journal) {
        this.out = out;
        this.folder = folder;
        this.tmp = tmp;
        this.plan = plan;
        this.metadata = metadata;
        this.companions = companions;
        this.journal = journal;
        this.resumed = List.copyOf(journal.entries());
    }

    /** The temporary output beside out (a file or a folder): the same name for every run. */
    public static Path partialPath(Path out) {
        Path abs = out.toAbsolutePath().normalize();
        return abs.resolveSibling("." + abs.getFileName() + ".wudi-partial");
    }

    /** The journal of the partial output. */
    public static Path journalPath(Path out) {
        Path abs = out.toAbsolutePath().normalize();
        return abs.resolveSibling("." + abs.getFileName() + ".wudi-journal");
    }

    /** The lock file that keeps two merges from writing the same partial output at once. */
    static Path lockPath(Path out) {
        Path abs = out.toAbsolutePath().normalize();
        return abs.resolveSibling("." + abs.getFileName() + ".wudi-lock");
    }

    /** Takes the output's lock, or fails naming the output when another merge holds it. */
    private static FileChannel lock(Path out) throws IOException {
        Path lockFile = lockPath(out);
        FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        if (lock == null) {
            ch.close();
            throw new CheckpointException("another wudi merge is writing " + out + " (it holds " + lockFile
                    + "); wait for it to finish or stop it first");
        }
        return ch;
    }

    /** A fresh output with an empty fingerprint. */
    public static CheckpointWriter create(Path out, boolean folder, List<TensorSpec> specs,
                                          Map<String, String> metadata, long shardBytes, List<Path> companions)
            throws IOException {
        return create(out, folder, specs, metadata, shardBytes, companions, Map.of(), false, note -> { });
    }

    /**
     * @param folder      write a Hugging Face folder (else one .safetensors file, never sharded)
     * @param shardBytes  the shard size limit for a folder
     * @param companions  files copied into a folder output (config.json, tokenizer files, ...)
     * @param fingerprint what identifies this merge (arguments, inputs); a resume needs the same
     * @param resume      continue the partial output of an earlier run with this fingerprint; without
     *                    it, a partial output left by an earlier run is removed (and noted)
     * @param notes       told one line about what happened to an earlier partial output
     */
    public static CheckpointWriter create(Path out, boolean folder, List<TensorSpec> specs,
                                          Map<String, String> metadata, long shardBytes, List<Path> companions,
                                          Map<String, String> fingerprint, boolean resume,
                                          Consumer<String> notes) throws IOException {
        Path abs = out.toAbsolutePath().normalize();
        Files.createDirectories(abs.getParent());
        FileChannel lock = lock(abs);
        try {
            CheckpointWriter w = create(abs, out, folder, specs, metadata, shardBytes, companions, fingerprint, resume,
                    notes);
            w.lock = lock;
            return w;
        } catch (IOException | RuntimeException e) {
            unlock(lock, abs);
            throw e;
        }
    }

    private static void unlock(FileChannel lock, Path out) throws IOException {
        // deleted while still held, so no other merge can lock this file after we let it go
        Files.deleteIfExists(lockPath(out));
        lock.close();
    }

    private static CheckpointWriter create(Path abs, Path out, boolean folder, List<TensorSpec> specs,
                                           Map<String, String> metadata, long shardBytes, List<Path> companions,
                                           Map<String, String> fingerprint, boolean resume,
                                           Consumer<String> notes) throws IOException {
        Path tmp = partialPath(abs);
        Path journalFile = journalPath(abs);
        ShardPlan plan = folder ? ShardPlan.of(specs, shardBytes) : new ShardPlan(List.of(List.copyOf(specs)));
        ObjectNode fp = OutputJournal.fingerprint(fingerprint);
        if (resume) {
            if (!Files.exists(journalFile) || !Files.exists(tmp, LinkOption.NOFOLLOW_LINKS)) {
                throw new CheckpointException("--resume: no partial output of " + out + " to resume (" + tmp
                        + (Files.exists(journalFile) ? "" : " or its journal") + " not found); run without --resume");
            }
            OutputJournal journal = OutputJournal.resume(journalFile, fp);
            try {
                requireSpace(out, abs, plan, metadata, companions, FreeSpace.sizeOf(tmp));
            } catch (IOException | RuntimeException e) {
                journal.close();
                throw e;
            }
            CheckpointWriter w = new CheckpointWriter(abs, folder, tmp, plan, metadata, companions, journal);
            try {
                w.reopen(specs);
            } catch (IOException | RuntimeException e) {
                journal.close();
                throw e;
            }
            notes.accept("resuming " + out + ": " + w.resumed.size() + " of " + specs.size()
                    + " tensors were completed by an earlier run");
            return w;
        }
        if (Files.exists(tmp, LinkOption.NOFOLLOW_LINKS) || Files.exists(journalFile, LinkOption.NOFOLLOW_LINKS)) {
            notes.accept("removing the partial output an earlier run left at " + tmp
                    + " (pass --resume to continue it instead)");
        }
        deleteRecursively(tmp);
        deleteRecursively(journalFile);
        requireSpace(out, abs, plan, metadata, companions, 0);
        if (folder) {
            Files.createDirectory(tmp);
        }
        OutputJournal journal = OutputJournal.start(journalFile, fp);
        CheckpointWriter w = new CheckpointWriter(abs, folder, tmp, plan, metadata, companions, journal);
        try {
            w.openNextShard();
        } catch (IOException | RuntimeException e) {
            w.close();
            throw e;
        }
        return w;
    }

    /** Refuses before anything is written when the output (less what a resumed partial holds) does not fit. */
    private static void requireSpace(Path out, Path abs, ShardPlan plan, Map<String, String> metadata,
                                     List<Path> companions, long alreadyWritten) throws IOException {
        long needed = 0;
        for (List<TensorSpec> shard : plan.shards()) {
            needed += SafetensorsWriter.fileSize(shard, metadata);
        }
        for (Path c : companions) {
            needed += Files.size(c);
        }
        FreeSpace.require(out, abs.getParent(), needed - alreadyWritten, FreeSpace.usable(abs.getParent()));
    }

    /** Puts the writer where the journal's last entry left off; earlier shards must be complete. */
    private void reopen(List<TensorSpec> specs) throws IOException {
        if (resumed.isEmpty()) {
            deleteRecursively(tmp);
            if (folder) {
                Files.createDirectory(tmp);
            }
            openNextShard();
            return;
        }
        if (resumed.size() > specs.size()) {
            throw new CheckpointException("--resume: the journal lists more tensors than this merge writes;"
                    + " run without --resume");
        }
        for (int i = 0; i < resumed.size(); i++) {
            if (!resumed.get(i).name().equals(specs.get(i).name())) {
                throw new CheckpointException("--resume: the journal lists tensor " + resumed.get(i).name()
                        + " where this merge writes " + specs.get(i).name() + "; run without --resume");
            }
        }
        OutputJournal.Entry last = resumed.get(resumed.size() - 1);
        if (last.shard() < 0 || last.shard() >= plan.count()) {
            throw new CheckpointException("--resume: the journal names shard " + last.shard() + " of "
                    + plan.count() + "; run without --resume");
        }
        for (int i = 0; i < last.shard(); i++) {
            Path p = shardPath(i);
            long expected = SafetensorsWriter.fileSize(plan.shards().get(i), metadata);
            if (!Files.isRegularFile(p) || Files.size(p) != expected) {
                throw new CheckpointException("--resume: shard " + p + " of the partial output is missing or"
                        + " incomplete; run without --resume to start over");
            }
        }
        shard = last.shard();
        List<TensorSpec> shardSpecs = plan.shards().get(shard);
        long total = 0;
        for (TensorSpec s : shardSpecs) {
            total += s.byteSize();
        }
        current = SafetensorsWriter.resume(shardPath(shard), shardSpecs, metadata, last.end());
        shardBytesLeft = total - last.end();
    }

    /** The temporary path being written (a file or a folder), for tests and messages. */
    public Path temporaryPath() {
        return tmp;
    }

    /** The file being written now (a shard of a folder output), for messages. */
    public Path currentFile() {
        return shardPath(Math.max(0, shard));
    }

    /** Tensors an earlier run completed (in output order); 0 unless resumed. */
    public int resumedCount() {
        return resumed.size();
    }

    /** The report record an earlier run stored for resumed tensor i. */
    public JsonNode resumedRecord(int i) {
        return resumed.get(i).record();
    }

    /**
     * Marks tensor index (in output order) as complete: forces its bytes to disk, then journals it with
     * its report record, so a resume can start after it.
     */
    public void tensorDone(int index, String name, JsonNode record) throws IOException {
        current.sync();
        journal.append(new OutputJournal.Entry(index, name, shard, current.dataWritten(), record));
    }

    /** Tensors journaled as complete so far (resumed ones included). */
    public int completedCount() {
        return journal.entries().size();
    }

    /**
     * On close without commit, keep the partial output and its journal for --resume (an interruption)
     * instead of removing them (a failure). Nothing is kept when no tensor was completed.
     */
    public void keepPartialOnClose() {
        keepPartial = true;
    }

    public ShardPlan plan() {
        return plan;
    }

    private Path shardPath(int i) {
        return folder ? tmp.resolve(plan.fileName(i)) : tmp;
    }

    private void openNextShard() throws IOException {
        if (current != null) {
            current.finish();
            current.close();
            current = null;
        }
        shard++;
        List<TensorSpec> specs = plan.shards().get(shard);
        shardBytesLeft = 0;
        for (TensorSpec s : specs) {
            shardBytesLeft += s.byteSize();
        }
        current = SafetensorsWriter.create(shardPath(shard), specs, metadata);
    }

    /** Moves to the next shard when the current one is full and more data is coming. */
    private void advanceIfFull() throws IOException {
        while (shardBytesLeft == 0 && shard + 1 < plan.count()) {
            openNextShard();
        }
    }

    /** Appends raw bytes (already in the output dtype) to the tensor being written. */
    public void write(ByteBuffer bytes) throws IOException {
        while (bytes.hasRemaining()) {
            advanceIfFull();
            int n = (int) Math.min(bytes.remaining(), shardBytesLeft);
            if (n == 0) {
                throw new IOException("more data than the output's tensors hold");
            }
            ByteBuffer part = bytes.duplicate();
            part.limit(part.position() + n);
            current.write(part);
            bytes.position(bytes.position() + n);
            shardBytesLeft -= n;
        }
    }

    /** Appends float32 values, encoded in the current tensor's dtype. */
    public void writeFloats(float[] src, int off, int count, int bytesPerElement) throws IOException {
        int done = 0;
        while (done < count) {
            advanceIfFull();
            long room = shardBytesLeft / bytesPerElement;
            int n = (int) Math.min(count - done, room);
            if (n == 0) {
                throw new IOException("more data than the output's tensors hold");
            }
            current.writeFloats(src, off + done, n);
            done += n;
            shardBytesLeft -= (long) n * bytesPerElement;
        }
    }

    /**
     * Files to write into a folder output at commit, after the copied companions (so a generated config.json
     * replaces a copied one). Ignored for a single-file output.
     */
    public void generateAtCommit(FolderFiles files) {
        this.generated = files;
    }

    /** Finishes every file, writes the index and companions, and renames the result into place. */
    public void commit() throws IOException {
        advanceIfFull();
        if (shard + 1 != plan.count() || shardBytesLeft != 0) {
            throw new IOException("output incomplete: not every tensor was written");
        }
        current.finish();
        current.close();
        current = null;
        if (folder) {
            if (plan.count() > 1) {
                writeIndex();
            }
            for (Path c : companions) {
                Files.copy(c, tmp.resolve(c.getFileName().toString()), StandardCopyOption.COPY_ATTRIBUTES,
                        StandardCopyOption.REPLACE_EXISTING);
            }
            if (generated != null) {
                generated.writeInto(tmp);
            }
        }
        replace(tmp, out);
        committed = true;
        journal.close();
        Files.deleteIfExists(journalPath(out));
    }

    private void writeIndex() throws IOException {
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = mapper.createObjectNode();
        long total = 0;
        ObjectNode map = mapper.createObjectNode();
        for (int i = 0; i < plan.count(); i++) {
            for (TensorSpec s : plan.shards().get(i)) {
                total += s.byteSize();
                map.put(s.name(), plan.fileName(i));
            }
        }
        ObjectNode meta = root.putObject("metadata");
        meta.put("total_size", total);
        meta.put("wudi_version", dev.wudi.checkpoint.Version.get());   // beside total_size, as mergekit names itself
        root.set("weight_map", map);
        Files.writeString(tmp.resolve(Checkpoint.INDEX_FILE), mapper.writeValueAsString(root) + "\n");
    }

    /** Puts the finished temporary output in place of dest, replacing what is there. */
    private static void replace(Path from, Path dest) throws IOException {
        if (Files.isDirectory(dest)) {
            Path old = dest.resolveSibling("." + dest.getFileName() + ".wudi-old-" + ProcessHandle.current().pid());
            deleteRecursively(old);
            Files.move(dest, old);
            move(from, dest);
            deleteRecursively(old);
        } else {
            move(from, dest);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Without a commit, removes the temporary output and its journal (or keeps them, see keepPartialOnClose). */
    @Override
    public void close() throws IOException {
        boolean keep = keepsPartial();
        try {
            if (current != null) {
                if (keep) {
                    current.closeKeepingPartial();
                } else {
                    current.close();
                }
                current = null;
            }
        } finally {
            try {
                if (journal != null) {
                    journal.close();
                }
                if (!committed && !keep) {
                    deleteRecursively(tmp);
                    Files.deleteIfExists(journalPath(out));
                }
            } finally {
                if (lock != null) {
                    unlock(lock, out);
                    lock = null;
                }
            }
        }
    }

    /** True when close() keeps (or kept) the partial output for --resume. */
    public boolean keepsPartial() {
        return !committed && keepPartial && completedCount() > 0;
    }

    public static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            Files.delete(p);
            return;
        }
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
