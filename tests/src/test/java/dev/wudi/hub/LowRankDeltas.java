package dev.wudi.hub;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.regex.Pattern;

/**
 * Seeded random low-rank task vectors: a synthetic fine-tune of any architecture whose deltas have a
 * known rank, like LoRA-trained ones. A 3-D tensor (stacked experts) gets an independent delta per
 * matrix, as per-expert fine-tuning would.
 */
final class LowRankDeltas {

    private LowRankDeltas() {
    }

    /**
     * U V with U [rows, rank], V [rank, cols] Gaussian, times scale / sqrt(rank) so a typical entry is
     * about scale whatever the rank; summed in double and rounded once.
     */
    static Map<String, Tensor> random(Model base, String regex, int rank, double scale, long seed) {
        if (rank < 1) {
            throw new IllegalArgumentException("rank must be at least 1, got " + rank);
        }
        Pattern p = Pattern.compile(regex);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : base.tensors().entrySet()) {
            Tensor t = e.getValue();
            if ((t.rank() == 2 || t.rank() == 3) && p.matcher(e.getKey()).find()) {
                out.put(e.getKey(), delta(t, rank, scale, SeededInit.random(seed, e.getKey() + "#delta")));
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no 2-D or 3-D tensor name matches /" + regex + "/");
        }
        return out;
    }

    private static Tensor delta(Tensor like, int rank, double scale, Random r) {
        int batch = like.rank() == 3 ? like.dim(0) : 1;
        int rows = like.dim(like.rank() - 2);
        int cols = like.dim(like.rank() - 1);
        double f = scale / Math.sqrt(rank);
        float[] d = new float[like.numel()];
        double[] u = new double[rows * rank];
        double[] v = new double[rank * cols];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < u.length; i++) {
                u[i] = r.nextGaussian();
            }
            for (int i = 0; i < v.length; i++) {
                v[i] = r.nextGaussian();
            }
            int off = b * rows * cols;
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    double s = 0;
                    for (int k = 0; k < rank; k++) {
                        s += u[i * rank + k] * v[k * cols + j];
                    }
                    d[off + i * cols + j] = (float) (f * s);
                }
            }
        }
        return new Tensor(d, like.shape().clone());
    }
}
