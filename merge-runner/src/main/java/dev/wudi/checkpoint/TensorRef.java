package dev.wudi.checkpoint;

import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Where one tensor of a checkpoint lives: the (possibly shard) file and its header entry; or a contiguous
 * part of such a tensor ({@link #slice}): the first V rows of a grown embedding, one expert of a stack of
 * expert matrices. Reads are relative to the part; {@link #info()} describes the part (its shape and its byte
 * range within the file's data area).
 */
public final class TensorRef {

    private final SafetensorsFile file;
    private final TensorInfo entry;
    private final long first;
    private final TensorInfo info;

    public TensorRef(SafetensorsFile file, TensorInfo entry) {
        this(file, entry, 0, entry);
    }

    private TensorRef(SafetensorsFile file, TensorInfo entry, long first, TensorInfo info) {
        this.file = file;
        this.entry = entry;
        this.first = first;
        this.info = info;
    }

    public SafetensorsFile file() {
        return file;
    }

    /** The tensor, or the part of it this reference covers. */
    public TensorInfo info() {
        return info;
    }

    public Path path() {
        return file.path();
    }

    public String name() {
        return entry.name();
    }

    /** True where this covers a part of a tensor, not all of it. */
    public boolean isSlice() {
        return info != entry;
    }

    /**
     * The contiguous part of this tensor (or part) that starts at element {@code firstElement} and has
     * {@code shape}, e.g. rows [0, V) of a [V + k, d] embedding, or expert e of an [E, out, in] stack.
     *
     * @throws IllegalArgumentException where the part does not lie inside this one
     */
    public TensorRef slice(long firstElement, long[] shape) {
        long numel = 1;
        for (long d : shape) {
            numel *= d;
        }
        if (firstElement < 0 || numel < 0 || firstElement > info.numel() - numel) {
            throw new IllegalArgumentException("tensor " + name() + " " + info.shapeString() + ": elements ["
                    + firstElement + ", " + (firstElement + numel) + ") of a part " + Arrays.toString(shape)
                    + " lie outside it");
        }
        int es = info.dtype().bytes();
        long begin = info.begin() + firstElement * es;
        TensorInfo part = new TensorInfo(entry.name(), entry.dtype(), shape.clone(), begin, begin + numel * es);
        return new TensorRef(file, entry, first + firstElement, part);
    }

    /** Reads elements [first, first+count) widened to float32. */
    public void readFloats(long firstElement, float[] dst, int dstOff, int count) throws IOException {
        if (firstElement < 0 || count < 0 || firstElement > info.numel() - count) {
            throw new IndexOutOfBoundsException(path() + ": tensor '" + name() + "': elements [" + firstElement
                    + ", " + firstElement + " + " + count + ") outside its " + info.numel());
        }
        file.readFloats(entry, first + firstElement, dst, dstOff, count);
    }

    /** Reads the whole tensor (or part) widened to float32 into dst (length must be at least numel). */
    public void readAll(float[] dst) throws IOException {
        readFloats(0, dst, 0, Math.toIntExact(info.numel()));
    }

    /** Copies dst.remaining() raw bytes starting at byteOffset within this tensor (or part). */
    public void readBytes(long byteOffset, ByteBuffer dst) throws IOException {
        if (byteOffset < 0 || byteOffset > info.byteSize() - dst.remaining()) {
            throw new IndexOutOfBoundsException(path() + ": tensor '" + name() + "': bytes [" + byteOffset + ", "
                    + byteOffset + " + " + dst.remaining() + ") outside its " + info.byteSize());
        }
        file.readBytes(entry, first * entry.dtype().bytes() + byteOffset, dst);
    }

    @Override
    public String toString() {
        return name() + " " + info.dtype() + " " + info.shapeString() + (isSlice() ? " (part)" : "") + " in " + path();
    }
}
