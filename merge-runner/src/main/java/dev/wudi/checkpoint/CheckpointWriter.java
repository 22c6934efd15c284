package dev.wudi.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Map;

/**
 * Writes the merged checkpoint in the base's layout: one .safetensors file for a file, or a folder of
 * shards (+ index.json when there are several) with the base's companion files. Everything is written
 * under a temporary name beside the destination and renamed into place only by {@link #commit()}; a
 * writer closed without commit leaves nothing behind.
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

    private int shard = -1;
    private long shardBytesLeft;
    private SafetensorsWriter current;
    private boolean committed;

    private CheckpointWriter(Path out, boolean folder, Path tmp, ShardPlan plan, Map<String, String> metadata,
                             List<Path> companions) {
        this.out = out;
        this.folder = folder;
        this.tmp = tmp;
        this.plan = plan;
        this.metadata = metadata;
        this.companions = companions;
    }

    /**
     * @param folder     write a Hugging Face folder (else one .safetensors file, never sharded)
     * @param shardBytes the shard size limit for a folder
     * @param companions files copied into a folder output (config.json, tokenizer files, ...)
     */
    public static CheckpointWriter create(Path out, boolean folder, List<TensorSpec> specs,
                                          Map<String, String> metadata, long shardBytes, List<Path> companions)
            throws IOException {
        Path abs = out.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        Files.createDirectories(parent);
        String tmpName = "." + abs.getFileName() + ".wudi-tmp-" + ProcessHandle.current().pid();
        Path tmp = parent.resolve(tmpName);
        deleteRecursively(tmp);
        ShardPlan plan = folder ? ShardPlan.of(specs, shardBytes) : new ShardPlan(List.of(List.copyOf(specs)));
        if (folder) {
            Files.createDirectory(tmp);
        }
        CheckpointWriter w = new CheckpointWriter(abs, folder, tmp, plan, metadata, companions);
        w.openNextShard();
        return w;
    }

    /** The temporary path being written (a file or a folder), for tests and messages. */
    public Path temporaryPath() {
        return tmp;
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
                Files.copy(c, tmp.resolve(c.getFileName().toString()), StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
        replace(tmp, out);
        committed = true;
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
        root.putObject("metadata").put("total_size", total);
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

    /** Without a commit, removes the temporary output. */
    @Override
    public void close() throws IOException {
        if (current != null) {
            current.close();
            current = null;
        }
        if (!committed) {
            deleteRecursively(tmp);
        }
    }

    static void deleteRecursively(Path p) throws IOException {
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
