package dev.wudi.lora;

import dev.wudi.checkpoint.ComputedTensor;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.format.TensorInfo;
import dev.wudi.solver.spectral.Gemm;
import java.io.IOException;
import java.nio.file.Path;

/**
 * An adapted weight as a full fine-tune would hold it: W = W_0 + scaling * B A, in the base's storage layout. For an
 * nn.Linear (or a Conv2d, its kernel flattened) the delta is B A [out, in], stored as the base stores the weight; for
 * GPT-2's Conv1D, stored [in, out], and for an embedding, [vocab, dim], it is (B A)^T (PEFT's fan_in_fan_out and
 * Embedding.get_delta_weight). Either way the stored delta is scaling * L R with L [stored rows, r] and R [r, stored
 * columns]; a read computes only the rows it covers, one float32 GEMM of rank r, so no dense delta is ever held.
 *
 * <p>The delta alone is readable too ({@link #deltaOver}): WUDI takes tau_i = scaling B A from it exactly, not as the
 * float32 difference (W_0 + delta) - W_0, which would lose the delta's low bits to W_0's magnitude.
 */
public final class LoraTensor implements ComputedTensor {

    private final TensorRef base;
    private final LoraAdapter.Module module;
    private final boolean transposed;
    private final TensorInfo info;
    private final long rows;
    private final long cols;
    private final ComputedTensor delta;

    /**
     * @param base       the base's tensor the adapter changes (its whole tensor)
     * @param transposed the stored weight is (B A)^T: a Conv1D or an embedding
     */
    LoraTensor(TensorRef base, LoraAdapter.Module module, boolean transposed) {
        this.base = base;
        this.module = module;
        this.transposed = transposed;
        long[] shape = base.info().shape().clone();
        long numel = base.info().numel();
        this.info = new TensorInfo(base.name(), DType.F32, shape, 0, numel * Float.BYTES);
        this.rows = shape[0];
        this.cols = numel / rows;
        LoraTensor self = this;
        this.delta = new ComputedTensor() {
            @Override
            public TensorInfo info() {
                return info;
            }

            @Override
            public Path path() {
                return self.path();
            }

            @Override
            public void readFloats(long first, float[] dst, int off, int count) throws IOException {
                readDelta(first, dst, off, count);
            }
        };
    }

    @Override
    public TensorInfo info() {
        return info;
    }

    @Override
    public Path path() {
        return module.a().path();
    }

    /** The module it adapts and its factors. */
    public LoraAdapter.Module module() {
        return module;
    }

    /** True where the stored weight is (B A)^T. */
    public boolean transposed() {
        return transposed;
    }

    /** The base's tensor. */
    public TensorRef base() {
        return base;
    }

    @Override
    public ComputedTensor deltaOver(TensorRef b) {
        return base.sameElements(b) ? delta : null;
    }

    /** W_0 + delta in float32, as merge_and_unload would compute it. */
    @Override
    public void readFloats(long first, float[] dst, int off, int count) throws IOException {
        base.readFloats(first, dst, off, count);
        float[] d = new float[count];
        readDelta(first, d, 0, count);
        for (int j = 0; j < count; j++) {
            dst[off + j] += d[j];
        }
    }

    /** Elements [first, first + count) of scaling * L R, computed for the stored rows they lie in. */
    void readDelta(long first, float[] dst, int off, int count) throws IOException {
        if (count == 0) {
            return;
        }
        long r0 = first / cols;
        long r1 = (first + count + cols - 1) / cols;
        int n = Math.toIntExact(r1 - r0);
        int c = Math.toIntExact(cols);
        int r = module.rank();
        float[][] f = storedFactors(r0, n);
        float[] block = new float[Math.multiplyExact(n, c)];
        Gemm.sgemm(false, false, n, c, r, (float) module.scaling(), f[0], f[1], 0f, block);
        System.arraycopy(block, Math.toIntExact(first - r0 * cols), dst, off, count);
    }

    /**
     * L rows [r0, r0 + n) and R of the stored delta scaling * L R: L = B, R = A as stored; L = A^T, R = B^T where the
     * weight is stored transposed.
     */
    private float[][] storedFactors(long r0, int n) throws IOException {
        int r = module.rank();
        int in = Math.toIntExact(module.in());
        int out = Math.toIntExact(module.out());
        float[] l = new float[n * r];
        float[] rr;
        if (!transposed) {
            module.b().readFloats(r0 * r, l, 0, n * r);             // B rows [r0, r0 + n): [n, r]
            rr = new float[r * in];
            module.a().readAll(rr);                                 // A [r, in]
        } else {
            float[] a = new float[r * in];
            module.a().readAll(a);
            for (int k = 0; k < r; k++) {
                for (int i = 0; i < n; i++) {
                    l[i * r + k] = a[k * in + (int) r0 + i];         // A^T rows [r0, r0 + n)
                }
            }
            float[] b = new float[out * r];
            module.b().readAll(b);
            rr = new float[r * out];
            for (int o = 0; o < out; o++) {
                for (int k = 0; k < r; k++) {
                    rr[k * out + o] = b[o * r + k];                 // B^T [r, out]
                }
            }
        }
        return new float[][] {l, rr};
    }

    /**
     * What the input check needs from the factors alone, without forming the delta: the first non-finite value of
     * lora_A or lora_B (factor null where there is none) and the delta's squared Frobenius norm
     * ||s B A||_F^2 = s^2 tr((B^T B)(A A^T)), in double.
     */
    public record FactorScan(TensorRef factor, long firstBad, long badCount, float badValue, double deltaSquaredNorm) {
    }

    public FactorScan scan() throws IOException {
        int r = module.rank();
        int in = Math.toIntExact(module.in());
        int out = Math.toIntExact(module.out());
        float[] a = new float[r * in];
        float[] b = new float[out * r];
        module.a().readAll(a);
        module.b().readAll(b);
        for (Object[] f : new Object[][] {{module.a(), a}, {module.b(), b}}) {
            float[] v = (float[]) f[1];
            long first = -1;
            long bad = 0;
            for (int i = 0; i < v.length; i++) {
                if (!Float.isFinite(v[i])) {
                    first = first < 0 ? i : first;
                    bad++;
                }
            }
            if (bad > 0) {
                return new FactorScan((TensorRef) f[0], first, bad, v[(int) first], Double.NaN);
            }
        }
        double[] btb = new double[r * r];
        double[] aat = new double[r * r];
        for (int j = 0; j < r; j++) {
            for (int k = j; k < r; k++) {
                double x = 0;
                for (int o = 0; o < out; o++) {
                    x += (double) b[o * r + j] * b[o * r + k];
                }
                double y = 0;
                for (int i = 0; i < in; i++) {
                    y += (double) a[j * in + i] * a[k * in + i];
                }
                btb[j * r + k] = x;
                btb[k * r + j] = x;
                aat[j * r + k] = y;
                aat[k * r + j] = y;
            }
        }
        double tr = 0;
        for (int i = 0; i < r * r; i++) {
            tr += btb[i] * aat[i];                                  // tr(X Y) = sum X_jk Y_kj, both symmetric
        }
        double s = module.scaling();
        return new FactorScan(null, -1, 0, 0f, s * s * tr);
    }

    /**
     * The factors of the delta as WUDI sees the weight: tau = scaling * P Q with P [rows, r] and Q [r, cols] of the
     * paper's [out, in] matrix. {@code paperTransposed}: the layout turns the stored weight to reach that matrix.
     */
    public float[][] paperFactors(boolean paperTransposed) throws IOException {
        float[][] f = storedFactors(0, Math.toIntExact(rows));
        if (!paperTransposed) {
            return f;
        }
        int r = module.rank();
        int sr = Math.toIntExact(rows);
        int sc = Math.toIntExact(cols);
        float[] p = new float[sc * r];                              // R^T [cols, r]
        for (int k = 0; k < r; k++) {
            for (int j = 0; j < sc; j++) {
                p[j * r + k] = f[1][k * sc + j];
            }
        }
        float[] q = new float[r * sr];                              // L^T [r, rows]
        for (int i = 0; i < sr; i++) {
            for (int k = 0; k < r; k++) {
                q[k * sr + i] = f[0][i * r + k];
            }
        }
        return new float[][] {p, q};
    }
}
