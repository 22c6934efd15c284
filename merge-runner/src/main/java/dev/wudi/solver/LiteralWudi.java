package dev.wudi.solver;

import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;
import dev.wudi.linalg.NativeFloats;
import java.util.List;

/**
 * WUDI-Merging of one weight the way the paper's code runs it: tau_m starts at sum_i tau_i and takes
 * PyTorch-exact Adam steps (specification 2.1) on the literal gradient of {@link InterferenceLoss} (2n matrix
 * products per step). The test oracle of the one-GEMM solver and the benchmark's peer.
 */
public final class LiteralWudi {

    private LiteralWudi() {
    }

    /**
     * @param taskVectors n task vectors, row-major [rows, cols]
     * @param listener    told after every step with the loss at the step's start; may be null
     */
    public static WudiResult solve(int rows, int cols, List<float[]> taskVectors, AdamConfig config,
                                   StepListener listener) {
        if (taskVectors.isEmpty()) {
            throw new IllegalStateException("no task vectors to merge");
        }
        int n = rows * cols;
        try (InterferenceLoss loss = new InterferenceLoss(rows, cols, taskVectors);
             NativeFloats tauNative = new NativeFloats(n);
             NativeFloats gradNative = new NativeFloats(n)) {
            float[] tau = new float[n];
            for (float[] t : taskVectors) {                 // tau_m = sum_i tau_i, float32, task order
                for (int j = 0; j < n; j++) {
                    tau[j] += t[j];
                }
            }
            float[] grad = new float[n];
            float[] m = new float[n];
            float[] v = new float[n];
            double lossBefore = Double.NaN;
            for (int t = 1; t <= config.iterations(); t++) {
                tauNative.copyFrom(tau);
                double l = loss.evaluate(tauNative, gradNative);
                gradNative.buffer().get(0, grad);
                if (t == 1) {
                    lossBefore = l;
                }
                Adam.step(Adam.scalars(config, t), grad, m, v, tau);
                if (listener != null) {
                    listener.afterStep(t, l);
                }
            }
            tauNative.copyFrom(tau);
            double lossAfter = loss.evaluate(tauNative, null);
            if (config.iterations() == 0) {
                lossBefore = lossAfter;
            }
            return new WudiResult(tau, lossBefore, lossAfter, config.iterations());
        }
    }
}
