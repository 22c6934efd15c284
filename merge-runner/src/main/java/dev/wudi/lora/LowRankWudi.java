package dev.wudi.lora;

import java.util.List;

/**
 * WUDI on task vectors given as low-rank factors, tau_i = s_i P_i Q_i (P_i [rows, r_i], Q_i [r_i, cols]: a LoRA
 * adapter's B and A in the paper's [out, in] orientation): the factors given and the solution, which is exactly of
 * rank at most R = sum r_i (tau_m = x U^T, U an orthonormal basis of the span of the Q_i's rows), so the merge can be
 * written as an adapter again. Exact, flow and spectral solve it without forming an [cols, cols] matrix; the solve is
 * a backend's ({@code Backend.solveLowRank}: the CPU's with LAPACK, wherever the placement puts it).
 */
public final class LowRankWudi {

    /** One task vector s P Q in factors: P [rows, rank], Q [rank, cols], row-major. */
    public record Factors(float[] p, float[] q, int rank, double scaling) {
    }

    /**
     * The solution in factors: tau_m = x basis, x [rows, r], basis [r, cols] with orthonormal rows.
     *
     * @param zeroTasks  indices (into the factors given) of task vectors that are exactly zero (weight 0)
     * @param used       eigenpairs the filter used
     */
    public record Solution(int rows, int cols, int r, float[] x, float[] basis, double lossBefore, double lossAfter,
                           double param, int used, double eigenSeconds, double totalSeconds, List<Integer> zeroTasks) {

        /** The same solution times s (x scaled; the losses stay those of the unscaled solution). */
        public Solution scaled(float s) {
            if (s == 1f) {
                return this;
            }
            float[] sx = x.clone();
            for (int i = 0; i < sx.length; i++) {
                sx[i] *= s;
            }
            return new Solution(rows, cols, r, sx, basis, lossBefore, lossAfter, param, used, eigenSeconds,
                    totalSeconds, zeroTasks);
        }

        /** tau_m = x basis, [rows, cols], in float32. */
        public float[] dense() {
            float[] tau = new float[Math.multiplyExact(rows, cols)];
            if (r > 0) {
                dev.wudi.solver.spectral.Gemm.sgemm(false, false, rows, cols, r, 1f, x, basis, 0f, tau);
            }
            return tau;
        }
    }

    private LowRankWudi() {
    }

    /**
     * The sum of the task vectors times a weight, weight sum_i s_i P_i Q_i, in the solution's basis (every Q_i's rows
     * lie in its span): x = weight sum_i s_i P_i (Q_i U), so a fraction of the models' average (weight = f / n, n
     * counting the models whose task vector here is zero) is written in factors as exactly as tau_m is.
     */
    public static Solution sumTimes(Solution s, List<Factors> tasks, double weight) {
        float[] x = new float[Math.multiplyExact(s.rows(), s.r())];
        for (Factors f : tasks) {
            if (s.r() == 0 || f.rank() == 0) {
                continue;
            }
            float[] qu = new float[f.rank() * s.r()];    // Q_i U: [rank, r]
            dev.wudi.solver.spectral.Gemm.sgemm(false, true, f.rank(), s.r(), s.cols(), 1f, f.q(), s.basis(), 0f, qu);
            dev.wudi.solver.spectral.Gemm.sgemm(false, false, s.rows(), s.r(), f.rank(), (float) (f.scaling() * weight),
                    f.p(), qu, 1f, x);
        }
        return new Solution(s.rows(), s.cols(), s.r(), x, s.basis(), s.lossBefore(), s.lossAfter(), s.param(),
                s.used(), s.eigenSeconds(), s.totalSeconds(), s.zeroTasks());
    }

    /** True where the factor form is smaller than the dense one: sum of ranks below cols. */
    public static boolean worthIt(List<Factors> tasks, int cols) {
        int r = 0;
        for (Factors f : tasks) {
            r += f.rank();
        }
        return r < cols;
    }
}
