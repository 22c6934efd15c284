package dev.wudi.method;

import java.io.IOException;

/**
 * TIES-Merging (Yadav et al., NeurIPS 2023): trim each task vector to its top-density fraction of
 * magnitudes, elect a sign per element (sign of the sum of trimmed values), and average only the
 * trimmed values that agree with it (disjoint mean); W = W_0 + lambda * mean. A config's per-model weight and
 * density and global lambda, normalize and rescale apply as in mergekit's ties (generalized task arithmetic with
 * magnitude sparsification and sum consensus):
 * <ul>
 *   <li>rescale: each trimmed task vector is multiplied by sum |tau_i| / sum |kept tau_i| (whole-tensor L1; left
 *       alone where either sum is below 1e-7), before the weights and the election;</li>
 *   <li>the sign is elected from the weighted values w_i tau_i'; an element keeps the models whose w_i tau_i' is
 *       non-zero with that sign, divided (normalize) by the sum of their weights, and where that sum is 0 (weights
 *       0.5 and -0.5 that agree) by 1, as mergekit sets a zero divisor to 1: W_0 + lambda * the weighted sum.</li>
 * </ul>
 * Two details stay this engine's: k = ceil(density * numel) with ties at the threshold kept (mergekit keeps
 * int(density * numel) by an arbitrary argsort), and an element whose weighted values sum to exactly zero keeps
 * W_0, as the paper's sign(0) = 0 elects no sign (mergekit counts the zero sum as positive).
 */
public final class Ties implements TensorRule {

    private final double density;
    private final float scale;

    public Ties(double density, double scale) {
        if (!(density > 0 && density <= 1)) {
            throw new IllegalArgumentException("ties density must lie in (0, 1], got " + density);
        }
        this.density = density;
        this.scale = (float) scale;
    }

    @Override
    public String label() {
        return "ties";
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        int n = job.taskCount();
        long numel = job.numel();
        // Trim: keep |tau_i| >= the k-th largest magnitude of tau_i (ties at the threshold are kept).
        float[] threshold = new float[n];
        float[] w = new float[n];
        for (int i = 0; i < n && numel > 0; i++) {
            double d = job.modelParam(i, "density", density);
            if (!(d > 0 && d <= 1)) {
                throw new IllegalArgumentException("tensor " + job.name() + ": ties density must lie in (0, 1], model "
                        + (job.modelIndices().get(i) + 1) + " has " + d);
            }
            long k = Math.max(1, (long) Math.ceil(d * numel));
            threshold[i] = k >= numel ? 0f
                    : MagnitudeThreshold.kthLargest(job.base(), job.models().get(i), numel, k);
        }
        for (int i = 0; i < n; i++) {
            w[i] = (float) job.modelParam(i, "weight", 1.0);   // a config's per-model weight: W_i = w_i tau_i
        }
        float lambda = (float) job.params().global("lambda", scale);
        boolean normalize = job.params().global("normalize", 1) != 0;
        float[] rescale = job.params().global("rescale", 0) != 0 ? rescale(job, threshold) : null;
        Chunks.forEach(job, (first, count, base, models, o) -> {
            for (int j = 0; j < count; j++) {
                float w0 = base[j];
                float elected = 0f; // sign of sum_i w_i trimmed tau_i
                for (int i = 0; i < n; i++) {
                    float t = models[i][j] - w0;
                    if (Math.abs(t) >= threshold[i]) {
                        elected += w[i] * (rescale == null ? t : t * rescale[i]);
                    }
                }
                float sum = 0f;
                float div = 0f;
                boolean agreeing = false;
                if (elected != 0f) {
                    for (int i = 0; i < n; i++) {
                        float t = models[i][j] - w0;
                        float wt = Math.abs(t) >= threshold[i] ? w[i] * (rescale == null ? t : t * rescale[i]) : 0f;
                        if (wt != 0f && (wt > 0f) == (elected > 0f)) {
                            sum += wt;
                            div += w[i];           // the disjoint mean: the agreeing models' weights
                            agreeing = true;
                        }
                    }
                }
                if (div == 0f) {
                    div = 1f;                      // mergekit's divisor[divisor == 0] = 1
                }
                o[j] = agreeing ? w0 + lambda * (normalize ? sum / div : sum) : w0;
            }
            sink.writeFloats(o, 0, count);
        });
        return TensorOutcome.NONE;
    }

    /**
     * mergekit's L1 rescale of each trimmed task vector: sum |tau_i| / sum |kept tau_i| over the whole tensor (a
     * first pass), 1 where either sum is below mergekit's eps 1e-7 or nothing is trimmed.
     */
    private static float[] rescale(TensorJob job, float[] threshold) throws IOException {
        int n = job.taskCount();
        double[] all = new double[n];
        double[] kept = new double[n];
        Chunks.forEach(job, (first, count, base, models, o) -> {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < count; j++) {
                    float a = Math.abs(models[i][j] - base[j]);
                    all[i] += a;
                    kept[i] += a >= threshold[i] ? a : 0;
                }
            }
        });
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = all[i] >= 1e-7 && kept[i] >= 1e-7 ? (float) (all[i] / kept[i]) : 1f;
        }
        return f;
    }
}
