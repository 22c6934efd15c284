package dev.wudi.format;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Streams a safetensors file: the header first (padded with spaces to a multiple of 8 bytes), then the
 * tensors' bytes in the order of the specs given.
 *
 * <p>Data go through one direct buffer of a few MiB, so callers may write any amount at a time, across
 * tensor boundaries. Writing past the last tensor, or finishing before every byte was written, is a
 * caller bug and raises IllegalStateException. Not thread-safe.
 */
public final class SafetensorsWriter implements AutoCloseable {

    /** One tensor to be written. */
    public record TensorSpec(String name, DType dtype, long[] shape) {
        public long byteSize() {
            long n = dtype.bytes();
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    private static final int BUFFER_BYTES = 4 << 20;
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Path path;
    private final FileChannel channel;
    private final List<TensorSpec> specs;
    /** ends[i]: data offset one past tensor i (tensor i starts at ends[i-1], or 0). */
    private final long[] ends;
    private final long total;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);

    /** Data bytes accepted so far (buffered or on disk). */
    private long written;
    /** Index of the tensor the next byte belongs to. */
    private int current;
    private boolean finished;
    private boolean closed;

    private SafetensorsWriter(Path path, FileChannel channel, List<TensorSpec> specs, long[] ends) {
        this.path = path;
        this.channel = channel;
        this.specs = specs;
        this.ends = ends;
        this.total = ends.length == 0 ? 0 : ends[ends.length - 1];
    }

    /** Creates (truncates) path and writes the header; data follow in specs' order. */
    public static SafetensorsWriter create(Path path, List<TensorSpec> specs, Map<String, String> metadata)
            throws IOException {
        List<TensorSpec> copy = List.copyOf(specs);
        long[] ends = layout(copy);
        byte[] header = header(copy, ends, metadata);

        FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
        SafetensorsWriter w = new SafetensorsWriter(path, channel, copy, ends);
        try {
            ByteBuffer prefix = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
            prefix.putLong(header.length).put(header).flip();
            while (prefix.hasRemaining()) {
                channel.write(prefix);
            }
        } catch (IOException | RuntimeException e) {
            w.close();
            throw e;
        }
        return w;
    }

    /**
     * Reopens a file this writer began with the same specs and metadata, keeps its first dataEnd data
     * bytes (a tensor boundary recorded after {@link #sync()}), drops anything after them, and continues
     * writing from there. The header on disk must be exactly the one these specs give.
     *
     * @throws IOException when the file is shorter than that or its header differs
     */
    public static SafetensorsWriter resume(Path path, List<TensorSpec> specs, Map<String, String> metadata,
                                           long dataEnd) throws IOException {
        List<TensorSpec> copy = List.copyOf(specs);
        long[] ends = layout(copy);
        byte[] header = header(copy, ends, metadata);
        long total = ends.length == 0 ? 0 : ends[ends.length - 1];
        if (dataEnd < 0 || dataEnd > total) {
            throw new IOException(path + ": cannot resume at data byte " + dataEnd + " of " + total);
        }
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            long keep = 8 + header.length + dataEnd;
            if (channel.size() < keep) {
                throw new IOException(path + ": partial output has " + channel.size() + " bytes, fewer than the "
                        + keep + " the journal recorded as complete");
            }
            ByteBuffer onDisk = ByteBuffer.allocate(8 + header.length);
            while (onDisk.hasRemaining()) {
                if (channel.read(onDisk, onDisk.position()) < 0) {
                    throw new IOException(path + ": partial output shrank while being read");
                }
            }
            ByteBuffer expected = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
            expected.putLong(header.length).put(header).flip();
            onDisk.flip();
            if (!onDisk.equals(expected)) {
                throw new IOException(path + ": partial output's header is not the one this merge writes");
            }
            channel.truncate(keep);
            channel.position(keep);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        SafetensorsWriter w = new SafetensorsWriter(path, channel, copy, ends);
        w.written = dataEnd;
        return w;
    }

    /** Size in bytes of the complete file these specs and metadata give (header and data). */
    public static long fileSize(List<TensorSpec> specs, Map<String, String> metadata) {
        List<TensorSpec> copy = List.copyOf(specs);
        long[] ends = layout(copy);
        return 8L + header(copy, ends, metadata).length + (ends.length == 0 ? 0 : ends[ends.length - 1]);
    }

    /** Data bytes accepted so far. */
    public long dataWritten() {
        return written;
    }

    /** Writes buffered bytes and forces the file to disk, so a journal may record dataWritten() as durable. */
    public void sync() throws IOException {
        ensureOpen();
        flush();
        channel.force(false);
    }

    /** Closes without deleting: the partial file stays for a later {@link #resume}. */
    public void closeKeepingPartial() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        channel.close();
    }

    /** Validates the specs and returns each tensor's end offset, contiguous in the given order. */
    private static long[] layout(List<TensorSpec> specs) {
        Set<String> names = new HashSet<>();
        long[] ends = new long[specs.size()];
        long offset = 0;
        for (int i = 0; i < specs.size(); i++) {
            TensorSpec s = specs.get(i);
            if (s.name() == null || s.name().equals(HeaderParser.METADATA_KEY)) {
                throw new IllegalArgumentException("invalid tensor name: " + s.name());
            }
            if (!names.add(s.name())) {
                throw new IllegalArgumentException("duplicate tensor name '" + s.name() + "'");
            }
            for (long d : s.shape()) {
                if (d < 0) {
                    throw new IllegalArgumentException("tensor '" + s.name() + "' has a negative dimension: "
                            + Arrays.toString(s.shape()));
                }
            }
            try {
                offset = Math.addExact(offset, s.byteSize());
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("tensor '" + s.name() + "' " + Arrays.toString(s.shape())
                        + " makes the file larger than 2^63 bytes");
            }
            ends[i] = offset;
        }
        return ends;
    }

    /** The header JSON, space-padded so that 8 + its length is a multiple of 8 (data start aligned). */
    private static byte[] header(List<TensorSpec> specs, long[] ends, Map<String, String> metadata) {
        ObjectNode root = MAPPER.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = root.putObject(HeaderParser.METADATA_KEY);
            metadata.forEach(meta::put);
        }
        for (int i = 0; i < specs.size(); i++) {
            TensorSpec s = specs.get(i);
            ObjectNode entry = root.putObject(s.name());
            entry.put("dtype", s.dtype().name());
            ArrayNode shape = entry.putArray("shape");
            for (long d : s.shape()) {
                shape.add(d);
            }
            entry.putArray("data_offsets").add(i == 0 ? 0 : ends[i - 1]).add(ends[i]);
        }
        byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /** Appends raw bytes to the current tensor (moving on to the next when it is full). */
    public void write(ByteBuffer bytes) throws IOException {
        ensureOpen();
        int length = bytes.remaining();
        if (length > total - written) {
            throw new IllegalStateException(path + ": writing " + length + " bytes would run "
                    + (length - (total - written)) + " bytes past the end of the last tensor");
        }
        if (length >= buffer.capacity()) {
            // large raw copies (carried-through tensors) skip the staging copy
            flush();
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
        }
        while (bytes.hasRemaining()) {
            if (!buffer.hasRemaining()) {
                flush();
            }
            int n = Math.min(bytes.remaining(), buffer.remaining());
            int limit = bytes.limit();
            bytes.limit(bytes.position() + n);
            buffer.put(bytes);
            bytes.limit(limit);
        }
        written += length;
    }

    /** Encodes float32 values into the current tensor's dtype (F32/F16/BF16 only) and appends them. */
    public void writeFloats(float[] src, int off, int count) throws IOException {
        ensureOpen();
        if (off < 0 || count < 0 || off > src.length - count) {
            throw new IndexOutOfBoundsException("range [" + off + ", " + off + " + " + count + ") outside array of "
                    + src.length);
        }
        while (count > 0) {
            skipFullTensors();
            if (current == specs.size()) {
                throw new IllegalStateException(path + ": writing " + count
                        + " more values would run past the end of the last tensor");
            }
            TensorSpec s = specs.get(current);
            DType dt = s.dtype();
            if (!dt.mergeable()) {
                throw new IllegalStateException(path + ": tensor '" + s.name() + "' is " + dt
                        + "; write its raw bytes with write(ByteBuffer), not floats");
            }
            long start = current == 0 ? 0 : ends[current - 1];
            if ((written - start) % dt.bytes() != 0) {
                throw new IllegalStateException(path + ": tensor '" + s.name() + "' is " + (written - start)
                        + " bytes in, not on a " + dt + " element boundary");
            }
            int es = dt.bytes();
            long left = (ends[current] - written) / es;
            int n = (int) Math.min(count, Math.min(left, buffer.capacity() / es));
            if (buffer.remaining() < n * es) {
                flush();
            }
            Floats.encode(dt, src, off, n, buffer);
            written += (long) n * es;
            off += n;
            count -= n;
        }
    }

    /** Moves past tensors already complete, zero-size ones included. */
    private void skipFullTensors() {
        while (current < specs.size() && written >= ends[current]) {
            current++;
        }
    }

    private void flush() throws IOException {
        buffer.flip();
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
        buffer.clear();
    }

    /** Checks that every tensor was written completely and forces the file to disk. */
    public void finish() throws IOException {
        ensureOpen();
        if (written != total) {
            skipFullTensors();
            TensorSpec s = specs.get(current);
            long start = current == 0 ? 0 : ends[current - 1];
            throw new IllegalStateException(path + ": tensor '" + s.name() + "' incomplete: " + (written - start)
                    + " of " + s.byteSize() + " bytes written (" + (total - written) + " bytes missing in all)");
        }
        flush();
        channel.force(true);
        channel.close();
        finished = true;
        closed = true;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(path + " is already " + (finished ? "finished" : "closed"));
        }
    }

    /** Closes; a file not finished is deleted. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            channel.close();
        } finally {
            // a half-written checkpoint must never be mistaken for a model
            Files.deleteIfExists(path);
        }
    }
}
