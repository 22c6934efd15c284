package dev.wudi.backend;

import dev.wudi.format.DType;
import dev.wudi.format.Floats;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Test stand-in for a device problem that takes raw checkpoint bytes (a backend that lists
 * {@link Capability#TASK_VECTORS_FROM_CHECKPOINT}): widens them as a device would, forms tau_i = W_i - W_0 in float32
 * and forwards it to the wrapped (CPU) problem.
 */
public class RawBytesProblem extends DelegatingProblem {

    protected final String tensor;
    protected final int n;
    protected float[] w0;
    protected DType dtype;

    public RawBytesProblem(String tensor, WudiProblem inner, int n) {
        super(inner);
        this.tensor = tensor;
        this.n = n;
    }

    @Override
    public void setBase(ByteBuffer b, DType d) {
        dtype = d;
        w0 = widen(b, d);
    }

    @Override
    public void addFineTuned(ByteBuffer b) {
        float[] t = widen(b, dtype);
        for (int j = 0; j < n; j++) {
            t[j] -= w0[j];
        }
        inner.addTaskVector(t);
    }

    private float[] widen(ByteBuffer b, DType d) {
        float[] f = new float[n];
        Floats.decode(d, b.duplicate().order(ByteOrder.LITTLE_ENDIAN), f, 0, n);
        return f;
    }
}
