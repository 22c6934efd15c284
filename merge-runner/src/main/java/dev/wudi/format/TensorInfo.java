package dev.wudi.format;

import java.util.Arrays;

/**
 * One tensor's header entry: name, dtype, shape and its byte range relative to the start of the data
 * area (the byte after the header), exactly as safetensors' data_offsets.
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {

    /** Number of elements (1 for a 0-d tensor). Validated at parse time not to overflow. */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public long byteSize() {
        return end - begin;
    }

    public int rank() {
        return shape.length;
    }

    /** "[256, 64]". */
    public String shapeString() {
        return Arrays.toString(shape);
    }

    public boolean sameShape(TensorInfo other) {
        return Arrays.equals(shape, other.shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && t.name.equals(name) && t.dtype == dtype
                && Arrays.equals(t.shape, shape) && t.begin == begin && t.end == end;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + shapeString();
    }
}
