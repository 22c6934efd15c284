package dev.wudi.backend.cpu;

import dev.wudi.adam.AdamStepScalars;
import dev.wudi.linalg.NativeFloats;
import dev.wudi.cpu.CpuAdamKernel;
import dev.wudi.solver.Adam;
import dev.wudi.solver.GramForm;

/**
 * The Adam pass in native code ({@link CpuAdamKernel}, cuda-kernels/cpu/fused_adam_cpu.c): P, D, m, v and
 * tau_m all in native memory, so the pass reads five floats and writes three per element and nothing is
 * copied between steps. D is the Gram form's own array (read only).
 */
final class NativeAdamPass implements AdamPass {

    private final int rows;
    private final int cols;
    private final RowParallel parallel;
    private final NativeFloats d;
    private final NativeFloats tau;
    private final NativeFloats p;
    private final NativeFloats m;
    private final NativeFloats v;

    NativeAdamPass(GramForm gram, RowParallel parallel) {
        this.rows = gram.rows();
        this.cols = gram.cols();
        this.parallel = parallel;
        this.d = gram.d();
        int n = rows * cols;
        NativeFloats[] made = new NativeFloats[4];
        try {
            made[0] = new NativeFloats(n);
            made[0].copyFrom(gram.sum());                        // tau_m starts at sum_i tau_i
            made[1] = new NativeFloats(n);
            made[2] = new NativeFloats(n);                       // m = 0
            made[3] = new NativeFloats(n);                       // v = 0
        } catch (RuntimeException | Error e) {
            for (NativeFloats f : made) {
                if (f != null) {
                    f.close();
                }
            }
            throw e;
        }
        this.tau = made[0];
        this.p = made[1];
        this.m = made[2];
        this.v = made[3];
    }

    @Override
    public NativeFloats tau() {
        return tau;
    }

    @Override
    public NativeFloats p() {
        return p;
    }

    @Override
    public double step(AdamStepScalars s, boolean withLoss) {
        long pa = p.address();
        long da = d.address();
        long ma = m.address();
        long va = v.address();
        long ta = tau.address();
        return parallel.run(rows, cols, (block, from, to) -> {
            long off = 4L * from;
            return CpuAdamKernel.fusedAdam(pa + off, da + off, ma + off, va + off, ta + off, to - from,
                    s.lerpWeight(), s.beta2(), s.oneMinusBeta2(), s.bc2Sqrt(), s.eps(), s.negStepSize(), withLoss,
                    CHUNK);
        });
    }

    @Override
    public double lossTerms() {
        long pa = p.address();
        long da = d.address();
        long ta = tau.address();
        return parallel.run(rows, cols, (block, from, to) -> {
            long off = 4L * from;
            return CpuAdamKernel.gramLossTerms(pa + off, da + off, ta + off, to - from);
        });
    }

    @Override
    public float[] tauArray() {
        return tau.toArray();
    }

    @Override
    public void close() {
        tau.close();
        p.close();
        m.close();
        v.close();
    }
}
