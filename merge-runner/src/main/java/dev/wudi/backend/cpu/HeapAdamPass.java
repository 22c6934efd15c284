package dev.wudi.backend.cpu;

import dev.wudi.adam.AdamStepScalars;
import dev.wudi.linalg.NativeFloats;
import dev.wudi.solver.Adam;
import dev.wudi.solver.GramForm;
import java.nio.FloatBuffer;

/**
 * The Adam pass in Java ({@link Adam#stepGramForm}), for a jar without the native library: m, v, D and
 * tau_m on the heap, because HotSpot vectorises loops over arrays and not over direct buffers (8x faster
 * here). OpenBLAS still needs tau_m and P in native memory, so each thread copies P in and tau_m back out
 * one chunk at a time, just before and after updating that chunk, while the chunk is in cache.
 */
final class HeapAdamPass implements AdamPass {

    private final int rows;
    private final int cols;
    private final RowParallel parallel;
    private final float[] d;
    private final float[] tau;
    private final float[] p;
    private final float[] m;
    private final float[] v;
    private final NativeFloats tauNative;
    private final NativeFloats pNative;

    HeapAdamPass(GramForm gram, RowParallel parallel) {
        this.rows = gram.rows();
        this.cols = gram.cols();
        this.parallel = parallel;
        int n = rows * cols;
        this.d = gram.d().toArray();
        this.tau = gram.sum().toArray();                         // tau_m starts at sum_i tau_i
        this.p = new float[n];
        this.m = new float[n];
        this.v = new float[n];
        NativeFloats t = NativeFloats.of(tau);
        try {
            this.pNative = new NativeFloats(n);
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
        this.tauNative = t;
    }

    @Override
    public NativeFloats tau() {
        return tauNative;
    }

    @Override
    public NativeFloats p() {
        return pNative;
    }

    @Override
    public double step(AdamStepScalars s, boolean withLoss) {
        FloatBuffer pIn = pNative.buffer();
        FloatBuffer tauOut = tauNative.buffer();
        return parallel.run(rows, cols, (block, from, to) -> {
            double acc = 0.0;
            for (int i = from; i < to; i += CHUNK) {
                int end = Math.min(to, i + CHUNK);
                pIn.get(i, p, i, end - i);
                if (withLoss) {
                    acc += Adam.gramLossTerms(p, d, tau, i, end);                  // <P - 2D, tau_m>
                }
                Adam.stepGramForm(s, p, d, m, v, tau, i, end);
                tauOut.put(i, tau, i, end - i);
            }
            return acc;
        });
    }

    @Override
    public double lossTerms() {
        FloatBuffer pIn = pNative.buffer();
        return parallel.run(rows, cols, (block, from, to) -> {
            pIn.get(from, p, from, to - from);
            return Adam.gramLossTerms(p, d, tau, from, to);
        });
    }

    @Override
    public float[] tauArray() {
        return tau;                                              // the pass's own array: it is not stepped again
    }

    @Override
    public void close() {
        tauNative.close();
        pNative.close();
    }
}
