package dev.wudi.linalg;

import java.nio.FloatBuffer;
import org.bytedeco.javacpp.FloatPointer;

/**
 * A zero-initialised float32 array in native memory: BLAS gets the pointer, Java code reads and writes
 * through a direct FloatBuffer view of the same bytes (no copies). Freed by close(), not by the GC, so a
 * solver's working set does not wait for a collection.
 */
public final class NativeFloats implements AutoCloseable {

    private final int length;
    private FloatPointer pointer;
    private FloatBuffer view;

    public NativeFloats(int length) {
        if (length <= 0) {
            throw new IllegalArgumentException("native float array needs a positive length, got " + length);
        }
        this.length = length;
        this.pointer = new FloatPointer(length);
        if (pointer.isNull()) {
            throw new OutOfMemoryError("could not allocate " + (4L * length) + " bytes of native memory");
        }
        pointer.zero();
        this.view = pointer.asBuffer();
    }

    /** Copies src into a new native array. */
    public static NativeFloats of(float[] src) {
        NativeFloats a = new NativeFloats(src.length);
        a.copyFrom(src);
        return a;
    }

    /** ||a||_F^2, accumulated in double. */
    public double squaredNorm() {
        FloatBuffer b = buffer();
        double acc = 0.0;
        for (int i = 0; i < length; i++) {
            double x = b.get(i);
            acc += x * x;
        }
        return acc;
    }

    public int length() {
        return length;
    }

    /** The direct-buffer view (absolute get/put only; its position is never moved). */
    public FloatBuffer buffer() {
        checkOpen();
        return view;
    }

    FloatPointer pointer() {
        checkOpen();
        return pointer;
    }

    /** The address of element 0, for native code that takes raw pointers (valid until close()). */
    public long address() {
        return pointer().address();
    }

    public void copyFrom(float[] src) {
        if (src.length != length) {
            throw new IllegalArgumentException("expected " + length + " floats, got " + src.length);
        }
        buffer().put(0, src);
    }

    public void copyFrom(NativeFloats src) {
        if (src.length != length) {
            throw new IllegalArgumentException("expected " + length + " floats, got " + src.length);
        }
        buffer().put(0, src.buffer(), 0, length);
    }

    public float[] toArray() {
        float[] out = new float[length];
        buffer().get(0, out);
        return out;
    }

    public void fill(float value) {
        FloatBuffer b = buffer();
        for (int i = 0; i < length; i++) {
            b.put(i, value);
        }
    }

    private void checkOpen() {
        if (pointer == null) {
            throw new IllegalStateException("native float array used after close()");
        }
    }

    /** Frees the native memory. Idempotent. */
    @Override
    public void close() {
        if (pointer != null) {
            pointer.close();
            pointer = null;
            view = null;
        }
    }
}
