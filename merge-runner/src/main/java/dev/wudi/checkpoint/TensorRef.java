package dev.wudi.checkpoint;

import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Where one tensor of a checkpoint lives: the (possibly shard) file and its header entry; or a contiguous
 * part of such a tensor ({@link #slice}): the first V rows of a grown embedding, one expert of a stack of
 * expert matrices. Reads are relative to the part; {@link #info()} describes the part (its shape and its byte
 * range within the file's data area). A reference may also stand for a {@link ComputedTensor} (a LoRA adapter's
 * weight), read like a stored F32 tensor.
 */
public final class TensorRef {

    private final SafetensorsFile file;
    private final ComputedTensor computed;
    private final TensorInfo entry;
    private final long first;
    private final TensorInfo info;

    public TensorRef(SafetensorsFile file, TensorInfo entry) {
        this(file, null, entry, 0, entry);
    }

    /** A reference to a computed tensor, read as a stored F32 one. */
    public static TensorRef computed(ComputedTensor c) {
        return new TensorRef(null, c, c.info(), 0, c.info());
    }

    private TensorRef(SafetensorsFile file, ComputedTensor computed, TensorInfo entry, long first, TensorInfo info) {
        this.file = file;
        this.computed = computed;
        this.entry = entry;
        this.first = first;
        this.info = info;
    }

    /** The file holding the tensor, or null for a computed one. */
    public SafetensorsFile file() {
        return file;
    }

    /** The computed tensor this stands for (or for a part of), or null for a stored one. */
    public ComputedTensor computed() {
        return computed;
    }

    /** The first element of the whole tensor this reference covers (0 unless a slice). */
    public long firstElement() {
        return first;
    }

    /** True where both cover the same elements of the same tensor of the same file (or computation). */
    public boolean sameElements(TensorRef o) {
        return o != null && o.file == file && o.computed == computed && o.entry.equals(entry) && o.first == first
                && o.info.numel() == info.numel();
    }

    /**
     * Where this is base + an exactly known delta (a LoRA target) over the same part of {@code base}: a reference
     * to that delta alone, same shape; else null.
     */
    public TensorRef deltaOver(TensorRef base) {
        if (computed == null || base == null || base.first != first || base.info.numel() != info.numel()) {
            return null;
        }
        ComputedTensor d = computed.deltaOver(base.first == 0 ? base : base.whole());
        return d == null ? null : new TensorRef(null, d, d.info(), first, info);
    }

    /** The whole tensor this is a part of. */
    private TensorRef whole() {
        return new TensorRef(file, computed, entry, 0, entry);
    }

    /** The tensor, or the part of it this reference covers. */
    public TensorInfo info() {
        return info;
    }

    public Path path() {
        return file != null ? file.path() : computed.path();
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
        return new TensorRef(file, computed, entry, first + firstElement, part);
    }

    /** Reads elements [first, first+count) widened to float32. */
    public void readFloats(long firstElement, float[] dst, int dstOff, int count) throws IOException {
        if (firstElement < 0 || count < 0 || firstElement > info.numel() - count) {
            throw new IndexOutOfBoundsException(path() + ": tensor '" + name() + "': elements [" + firstElement
                    + ", " + firstElement + " + " + count + ") outside its " + info.numel());
        }
        if (computed != null) {
            computed.readFloats(first + firstElement, dst, dstOff, count);
        } else {
            file.readFloats(entry, first + firstElement, dst, dstOff, count);
        }
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
        if (computed != null) {
            readComputedBytes(byteOffset, dst);
        } else {
            file.readBytes(entry, first * entry.dtype().bytes() + byteOffset, dst);
        }
    }

    /** A computed tensor's float32 values as little-endian bytes (whole elements only). */
    private void readComputedBytes(long byteOffset, ByteBuffer dst) throws IOException {
        if (byteOffset % Float.BYTES != 0 || dst.remaining() % Float.BYTES != 0) {
            throw new IllegalArgumentException(name() + ": computed tensors are read in whole float32 elements");
        }
        int count = dst.remaining() / Float.BYTES;
        float[] v = new float[count];
        readFloats(byteOffset / Float.BYTES, v, 0, count);
        ByteBuffer le = dst.slice().order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            le.putFloat(x);
        }
        dst.position(dst.position() + count * Float.BYTES);
    }

    @Override
    public String toString() {
        return name() + " " + info.dtype() + " " + info.shapeString() + (isSlice() ? " (part)" : "") + " in " + path();
    }
}
