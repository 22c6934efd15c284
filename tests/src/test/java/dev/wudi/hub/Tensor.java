package dev.wudi.hub;

import java.util.Arrays;

/**
 * A dense float32 tensor, row-major, as the test builders pass them around. Treated as immutable: every
 * operation returns a new tensor, so a base model and the fine-tunes built from it can share arrays.
 */
public record Tensor(float[] data, long[] shape) {

    public Tensor {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        if (n != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n
                    + " values, got " + data.length);
        }
    }

    public static Tensor zeros(long... shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return new Tensor(new float[Math.toIntExact(n)], shape.clone());
    }

    public int numel() {
        return data.length;
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return Math.toIntExact(shape[i]);
    }

    /** The element at a full index (one coordinate per dimension). */
    public float at(int... index) {
        if (index.length != shape.length) {
            throw new IllegalArgumentException("index of rank " + index.length + " into shape "
                    + Arrays.toString(shape));
        }
        int flat = 0;
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= shape[i]) {
                throw new IndexOutOfBoundsException(Arrays.toString(index) + " outside " + Arrays.toString(shape));
            }
            flat = flat * dim(i) + index[i];
        }
        return data[flat];
    }

    public boolean sameShape(Tensor o) {
        return Arrays.equals(shape, o.shape);
    }

    /** Element-wise sum, rounded to float32 per element (what a fine-tune stored in float32 holds). */
    public Tensor plus(Tensor delta) {
        if (!sameShape(delta)) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " + "
                    + Arrays.toString(delta.shape));
        }
        float[] out = new float[data.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = data[i] + delta.data[i];
        }
        return new Tensor(out, shape.clone());
    }

    /** Element-wise difference; tests use it to recover a fine-tune's task vector. */
    public Tensor minus(Tensor other) {
        float[] neg = new float[other.data.length];
        for (int i = 0; i < neg.length; i++) {
            neg[i] = -other.data[i];
        }
        return plus(new Tensor(neg, other.shape));
    }

    /** The transpose of a matrix, or of each matrix in a stack ([E, a, b] -> [E, b, a]). */
    public Tensor transpose() {
        if (rank() != 2 && rank() != 3) {
            throw new IllegalStateException("transpose needs a 2-D or 3-D tensor, got " + Arrays.toString(shape));
        }
        int batch = rank() == 3 ? dim(0) : 1;
        int rows = dim(rank() - 2);
        int cols = dim(rank() - 1);
        float[] out = new float[data.length];
        for (int b = 0; b < batch; b++) {
            int off = b * rows * cols;
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    out[off + c * rows + r] = data[off + r * cols + c];
                }
            }
        }
        long[] s = shape.clone();
        s[rank() - 2] = cols;
        s[rank() - 1] = rows;
        return new Tensor(out, s);
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape);
    }
}
