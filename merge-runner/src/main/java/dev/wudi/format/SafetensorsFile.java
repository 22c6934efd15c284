package dev.wudi.format;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A validated, memory-mapped, read-only safetensors file.
 *
 * <p>Layout (specification 4): an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the
 * data area, in which every tensor's data_offsets are relative. {@link #open} checks everything before
 * returning, in the order of {@link SafetensorsException.Kind}; once open, reads cannot fail on bad data.
 *
 * <p>Safe to read from several threads at once: reads share no position state.
 */
public final class SafetensorsFile implements AutoCloseable {

    /** Headers are a few KiB to a few MiB; a larger length is corruption, not a real model. */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    private final Path path;
    private final List<TensorInfo> tensors;
    private final Map<String, TensorInfo> byName;
    private final Map<String, String> metadata;
    /** Null once closed; the mappings go away when the garbage collector drops the buffers. */
    private volatile MappedData data;
    /** The open file (null for parsed bytes), and its size when validated. */
    private FileChannel channel;
    private long expectedSize;
    /** For a partial copy ({@link PartialCopies}), the tensors whose bytes it holds; null for a complete file. */
    private Set<String> held;

    private SafetensorsFile(Path path, HeaderParser.Header header, MappedData data) {
        this.path = path;
        this.tensors = header.tensors();
        this.metadata = header.metadata();
        this.byName = new HashMap<>();
        for (TensorInfo t : tensors) {
            byName.put(t.name(), t);
        }
        this.data = data;
    }

    /** Opens and fully validates the header (specification 4, checks in SafetensorsException.Kind order). */
    public static SafetensorsFile open(Path path) throws IOException {
        return open(path, MappedData.DEFAULT_WINDOW);
    }

    /** As {@link #open(Path)} with a chosen mapping window, so tests can cross windows with small files. */
    static SafetensorsFile open(Path path, int window) throws IOException {
        FileKinds.requireRegularFile(path, "the checkpoint file");
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
        try {
            long fileSize = channel.size();
            Validated v = validate(path, fileSize, (dst, position) -> readFully(channel, dst, position));
            MappedData data = MappedData.map(channel, v.dataStart, fileSize - v.dataStart, window);
            SafetensorsFile f = new SafetensorsFile(path, v.header, data);
            // kept open to see the file's real size before each read (see checkNotShrunk)
            f.channel = channel;
            f.expectedSize = fileSize;
            f.held = PartialCopies.held(path);
            return f;
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /**
     * Validates the bytes of a whole safetensors file held in memory, with exactly the checks of
     * {@link #open(Path)} (the same code path), and returns it readable. For fuzzing and for bytes that
     * never were a file; nameForMessages is the file name the errors give.
     */
    public static SafetensorsFile parse(ByteBuffer bytes, Path nameForMessages) throws SafetensorsException {
        ByteBuffer all = bytes.slice();
        long size = all.remaining();
        Validated v;
        try {
            v = validate(nameForMessages, size, (dst, position) -> dst.put(all.slice((int) position, dst.remaining())));
        } catch (SafetensorsException e) {
            throw e;
        } catch (IOException e) {
            throw new IllegalStateException("in-memory reads cannot fail", e);
        }
        MappedData data = MappedData.wrap(all, (int) v.dataStart, (int) (size - v.dataStart));
        return new SafetensorsFile(nameForMessages, v.header, data);
    }

    /** Reads dst.remaining() bytes at position (inside the file: callers check that first). */
    @FunctionalInterface
    private interface Source {
        void read(ByteBuffer dst, long position) throws IOException;
    }

    private record Validated(HeaderParser.Header header, long dataStart) {
    }

    /**
     * The checks before any tensor is touched, in SafetensorsException.Kind order. Nothing is allocated
     * in proportion to the claimed header length before that length is checked against the cap and
     * against the real size of the file.
     */
    private static Validated validate(Path path, long fileSize, Source source) throws IOException {
        if (fileSize < 8) {
            throw new SafetensorsException(SafetensorsException.Kind.HEADER_TOO_SMALL, path,
                    "file has " + fileSize + " bytes, too short for the 8-byte header length");
        }
        ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        source.read(prefix, 0);
        long n = prefix.getLong(0);
        // n is unsigned on disk: a negative long is a length above 2^63. Checked before allocating.
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw new SafetensorsException(SafetensorsException.Kind.HEADER_TOO_LARGE, path,
                    "header length " + Long.toUnsignedString(n) + " exceeds the cap of " + MAX_HEADER_BYTES
                            + " bytes (not a safetensors file, or corrupt)");
        }
        if (n > fileSize - 8) {
            throw new SafetensorsException(SafetensorsException.Kind.HEADER_BEYOND_FILE, path,
                    "header length " + n + " runs past the end of the file (" + fileSize
                            + " bytes; truncated download?)");
        }
        ByteBuffer header = ByteBuffer.allocate((int) n);
        source.read(header, 8);
        header.flip();
        long dataStart = 8 + n;
        return new Validated(HeaderParser.parse(path, header, fileSize - dataStart), dataStart);
    }

    private static void readFully(FileChannel channel, ByteBuffer dst, long position) throws IOException {
        while (dst.hasRemaining()) {
            int n = channel.read(dst, position);
            if (n < 0) {
                throw new EOFException("file shrank while being read");
            }
            position += n;
        }
    }

    public Path path() {
        return path;
    }

    /** Tensors in data (offset) order. */
    public List<TensorInfo> tensors() {
        return tensors;
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    /** @throws SafetensorsException of kind TENSOR_NOT_FOUND naming file and tensor */
    public TensorInfo tensor(String name) throws SafetensorsException {
        TensorInfo t = byName.get(name);
        if (t == null) {
            throw new SafetensorsException(SafetensorsException.Kind.TENSOR_NOT_FOUND, path, name,
                    "no such tensor (the file has " + tensors.size() + ")");
        }
        return t;
    }

    /** The __metadata__ map (string to string), insertion-ordered, empty when absent. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Reads count elements of a mergeable (F32/F16/BF16) tensor from element index first, widened to float32. */
    public void readFloats(TensorInfo t, long first, float[] dst, int dstOff, int count) throws IOException {
        checkOwned(t);
        DType dt = t.dtype();
        if (!dt.mergeable()) {
            throw new IllegalArgumentException(path + ": tensor '" + t.name() + "' is " + dt
                    + ", not a float type that can be read as floats (F32, F16, BF16); copy it with readBytes");
        }
        if (first < 0 || count < 0 || first > t.numel() - count) {
            throw new IndexOutOfBoundsException(path + ": tensor '" + t.name() + "': elements [" + first + ", "
                    + first + " + " + count + ") outside its " + t.numel());
        }
        if (dstOff < 0 || dstOff > dst.length - count) {
            throw new IndexOutOfBoundsException("destination range [" + dstOff + ", " + dstOff + " + " + count
                    + ") outside array of " + dst.length);
        }
        MappedData d = mapped();
        checkNotShrunk(t);
        int es = dt.bytes();
        long pos = t.begin() + first * es;
        try {
            decode(d, dt, pos, dst, dstOff, count);
        } catch (InternalError e) {
            throw readFailed(t, e);
        }
    }

    private static void decode(MappedData d, DType dt, long pos, float[] dst, int dstOff, int count) {
        int es = dt.bytes();
        while (count > 0) {
            // Decode straight from the mapping as far as the current window allows ...
            ByteBuffer view = d.view(pos, (long) count * es);
            int n = view.remaining() / es;
            if (n == 0) {
                // ... except for one element split across two windows: gather its bytes first.
                view = ByteBuffer.allocate(es);
                d.copy(pos, view);
                view.flip();
                n = 1;
            }
            Floats.decode(dt, view, dst, dstOff, n);
            pos += (long) n * es;
            dstOff += n;
            count -= n;
        }
    }

    /** Copies dst.remaining() raw bytes of tensor t starting at byteOffset within the tensor into dst. */
    public void readBytes(TensorInfo t, long byteOffset, ByteBuffer dst) throws IOException {
        checkOwned(t);
        int length = dst.remaining();
        if (byteOffset < 0 || byteOffset > t.byteSize() - length) {
            throw new IndexOutOfBoundsException(path + ": tensor '" + t.name() + "': bytes [" + byteOffset + ", "
                    + byteOffset + " + " + length + ") outside its " + t.byteSize());
        }
        if (length > 0) {
            checkNotShrunk(t);
            try {
                mapped().copy(t.begin() + byteOffset, dst);
            } catch (InternalError e) {
                throw readFailed(t, e);
            }
        }
    }

    /**
     * Touching a mapping past the end of a file that another program truncated raises SIGBUS, which the
     * JVM may only report later, asynchronously, as an InternalError far from here. One fstat per read
     * (per chunk of a million elements, or per tensor) turns the common case into an IOException naming
     * the file and the tensor before any mapped byte is touched.
     */
    private void checkNotShrunk(TensorInfo t) throws IOException {
        FileChannel ch = channel;
        if (ch != null && ch.isOpen()) {
            long now = ch.size();
            if (now < expectedSize) {
                throw new IOException(path + ": tensor '" + t.name() + "': the file shrank from " + expectedSize
                        + " to " + now + " bytes while open (truncated or being rewritten by another program?)");
            }
        }
    }

    /**
     * A mapped read that faults (the file was truncated or replaced under us, or the disk failed)
     * surfaces in the JVM as an InternalError; it becomes an IOException naming the file and tensor.
     */
    private IOException readFailed(TensorInfo t, InternalError e) {
        return new IOException(path + ": tensor '" + t.name() + "': read failed (" + e.getMessage()
                + "); was the file truncated or changed while merging, or is the disk failing?", e);
    }

    /**
     * A TensorInfo from another file would silently read the wrong bytes here; so would a tensor that a partial copy
     * does not hold (its bytes are a hole of zeros).
     */
    private void checkOwned(TensorInfo t) {
        if (!t.equals(byName.get(t.name()))) {
            throw new IllegalArgumentException(path + ": tensor " + t + " [" + t.begin() + ", " + t.end()
                    + ") is not an entry of this file");
        }
        Set<String> h = held;
        if (h != null && !h.contains(t.name())) {
            throw new IllegalStateException(path + ": tensor '" + t.name() + "' was not fetched into this partial"
                    + " copy of a remote file (it holds " + h.size() + " of its " + tensors.size() + " tensors): a read"
                    + " that the task did not plan");
        }
    }

    private MappedData mapped() {
        MappedData d = data;
        if (d == null) {
            throw new IllegalStateException(path + " is closed");
        }
        return d;
    }

    /** Drops the mappings; they are unmapped when collected (Java has no safe explicit unmap). */
    @Override
    public void close() {
        data = null;
        FileChannel ch = channel;
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // read-only: nothing to lose
            }
        }
    }
}
