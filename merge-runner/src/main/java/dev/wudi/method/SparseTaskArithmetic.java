package dev.wudi.method;

import dev.wudi.checkpoint.TensorRef;
import java.io.IOException;
import java.util.Arrays;

/**
 * mergekit's generalized task arithmetic with sparsification: DARE (Yu et al., arXiv:2311.03099), Model Breadcrumbs
 * (Davari and Belilovsky, arXiv:2312.06795) and DELLA (Deep et al., arXiv:2406.11617), each with or without TIES'
 * sign consensus. Per tensor, with tau_i = W_i - W_0 and model i's weight w_i, density d_i, gamma, epsilon:
 * <ol>
 *   <li>sparsify each tau_i: <b>random</b> keeps each element with probability d_i; <b>outliers</b> drops the
 *       gamma N largest and the N - d_i N - gamma N smallest magnitudes; <b>della</b> keeps each element with
 *       probability (d_i - eps) + 2 eps r, r its magnitude rank within its row scaled to [0, 1]; with rescale the
 *       kept values are multiplied by sum |tau_i| / sum |kept| (whole-tensor L1, as mergekit does, not 1/d);</li>
 *   <li>W_i = w_i tau_i'; with consensus, an element keeps the W_i whose sign is the sign of sum_i W_i (a zero sum
 *       counts as positive) and divides by the sum of those models' weights; without, every W_i and sum_i w_i;</li>
 *   <li>with normalize, divide; times lambda; W = W_0 + the result.</li>
 * </ol>
 * Random draws come from a counter-based generator keyed by the seed, the tensor's name, the model and the element
 * (SplitMix64), so the output is the same bytes for every run, chunking and thread count. Magnitude selections use
 * thresholds on exact radix selects ({@link MagnitudeThreshold}): elements tied at a threshold are all kept or all
 * dropped where mergekit's argsort breaks ties arbitrarily.
 */
public final class SparseTaskArithmetic implements TensorRule {

    /** How task vectors are thinned before they are combined. */
    public enum Sparsify { RANDOM, OUTLIERS, DELLA }

    private final String label;
    private final Sparsify sparsify;
    private final boolean consensus;
    private final boolean normalizeDefault;
    private final boolean rescaleDefault;
    private final long seed;
    private final double defaultDensity;
    private final double defaultLambda;

    /**
     * @param defaultDensity density where a model has none (--density, else 1: nothing dropped)
     * @param defaultLambda  lambda where the tensor has none (--scale, else 1)
     */
    public SparseTaskArithmetic(String label, Sparsify sparsify, boolean consensus, boolean normalizeDefault,
                                boolean rescaleDefault, long seed, double defaultDensity, double defaultLambda) {
        this.label = label;
        this.sparsify = sparsify;
        this.consensus = consensus;
        this.normalizeDefault = normalizeDefault;
        this.rescaleDefault = rescaleDefault;
        this.seed = seed;
        this.defaultDensity = defaultDensity;
        this.defaultLambda = defaultLambda;
    }

    @Override
    public String label() {
        return label;
    }

    /** Per model: the sparsification's settings and the L1 rescale factor, decided in a first pass. */
    private static final class Plan {
        double density;
        double epsilon;
        float low;          // outliers: keep |tau| >= low ...
        float high;         // ... and |tau| < high
        boolean keepNone;
        float rescale = 1f;
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        int n = job.taskCount();
        long numel = job.numel();
        TensorParameters p = job.params();
        boolean normalize = p.global("normalize", normalizeDefault ? 1 : 0) != 0;
        boolean rescale = p.global("rescale", rescaleDefault ? 1 : 0) != 0;
        float lambda = (float) p.global("lambda", defaultLambda);
        long nameKey = nameKey(job.name(), seed);
        int rowLength = job.info().rank() >= 2 ? Math.toIntExact(numel / job.info().shape()[0]) : Math.toIntExact(numel);
        Plan[] plans = new Plan[n];
        float[] weight = new float[n];
        for (int i = 0; i < n; i++) {
            weight[i] = (float) job.modelParam(i, "weight", 1.0);
            plans[i] = plan(job, i, numel, p);
        }
        int cap = chunk(numel, rowLength);
        float[] b = new float[cap];
        float[][] m = new float[n][cap];
        float[] o = new float[cap];
        if (rescale) {
            // first pass: L1 of each tau_i and of its kept part (the draws are keyed, so the second pass redraws them)
            double[] all = new double[n];
            double[] kept = new double[n];
            for (long first = 0; first < numel; first += cap) {
                int count = (int) Math.min(cap, numel - first);
                read(job, first, count, b, m);
                for (int i = 0; i < n; i++) {
                    float[] k = keptValues(plans[i], nameKey, i, first, count, rowLength, b, m[i]);
                    for (int j = 0; j < count; j++) {
                        all[i] += Math.abs(m[i][j] - b[j]);
                        kept[i] += Math.abs(k[j]);
                    }
                }
            }
            for (int i = 0; i < n; i++) {
                if (all[i] >= 1e-7 && kept[i] >= 1e-7) {
                    plans[i].rescale = (float) (all[i] / kept[i]);   // sum |tau| / sum |kept|: mergekit's L1 rescale
                }
            }
        }
        float[] w = new float[n];
        for (long first = 0; first < numel; first += cap) {
            int count = (int) Math.min(cap, numel - first);
            read(job, first, count, b, m);
            float[][] kept = new float[n][];
            for (int i = 0; i < n; i++) {
                kept[i] = keptValues(plans[i], nameKey, i, first, count, rowLength, b, m[i]);
            }
            for (int j = 0; j < count; j++) {
                float sum = 0f;
                for (int i = 0; i < n; i++) {
                    w[i] = weight[i] * kept[i][j];                      // W_i = w_i tau_i'
                    sum += w[i];
                }
                float mixed = 0f;
                float div = 0f;
                if (consensus) {
                    boolean positive = sum >= 0f;                       // the elected sign; a zero sum counts as +
                    for (int i = 0; i < n; i++) {
                        if (w[i] != 0f && (w[i] > 0f) == positive) {
                            mixed += w[i];
                            div += weight[i];
                        }
                    }
                    if (div == 0f) {
                        div = 1f;
                    }
                } else {
                    for (int i = 0; i < n; i++) {
                        mixed += w[i];
                        div += weight[i];
                    }
                    if (Math.abs(div) < 1e-8f) {
                        div = 1f;
                    }
                }
                if (normalize) {
                    mixed /= div;
                }
                o[j] = b[j] + lambda * mixed;
            }
            sink.writeFloats(o, 0, count);
        }
        return TensorOutcome.NONE;
    }

    private Plan plan(TensorJob job, int i, long numel, TensorParameters p) throws IOException {
        Plan plan = new Plan();
        plan.density = job.modelParam(i, "density", defaultDensity);
        plan.epsilon = job.modelParam(i, "epsilon", 0.15);
        if (plan.density >= 1 || numel == 0) {
            return plan;
        }
        if (sparsify == Sparsify.DELLA && (plan.density + plan.epsilon >= 1 || plan.density - plan.epsilon <= 0)) {
            throw new IllegalArgumentException("tensor " + job.name() + ": " + label + " needs density +- epsilon"
                    + " inside (0, 1); model " + (job.modelIndices().get(i) + 1) + " has density " + plan.density
                    + ", epsilon " + plan.epsilon);
        }
        if (sparsify == Sparsify.OUTLIERS) {
            double gamma = job.modelParam(i, "gamma", 0.01);
            long target = (long) (plan.density * numel);
            long top = (long) (gamma * numel);
            long bottom = numel - target - top;
            if (bottom < 0) {
                top += bottom;
                bottom = 0;
            }
            long keep = numel - bottom - top;                 // ranks [bottom, numel - top) by magnitude, ascending
            if (keep <= 0) {
                plan.keepNone = true;
                return plan;
            }
            TensorRef base = job.base();
            TensorRef model = job.models().get(i);
            plan.high = top == 0 ? Float.POSITIVE_INFINITY : MagnitudeThreshold.kthLargest(base, model, numel, top);
            plan.low = MagnitudeThreshold.kthLargest(base, model, numel, numel - bottom);
        }
        return plan;
    }

    /** The kept part of tau for elements [first, first + count), times the plan's rescale factor. */
    private float[] keptValues(Plan plan, long nameKey, int model, long first, int count, int row, float[] b,
                               float[] m) {
        float[] t = new float[count];
        for (int j = 0; j < count; j++) {
            t[j] = m[j] - b[j];
        }
        if (plan.density >= 1) {
            return t;
        }
        if (plan.keepNone) {
            Arrays.fill(t, 0f);
            return t;
        }
        switch (sparsify) {
            case RANDOM:
                for (int j = 0; j < count; j++) {
                    t[j] = uniform(nameKey, model, first + j) < plan.density ? t[j] * plan.rescale : 0f;
                }
                break;
            case OUTLIERS:
                for (int j = 0; j < count; j++) {
                    float a = Math.abs(t[j]);
                    t[j] = a >= plan.low && a < plan.high ? t[j] * plan.rescale : 0f;
                }
                break;
            default: // DELLA: probability from the magnitude rank within each row
                for (int r0 = 0; r0 < count; r0 += row) {
                    int len = Math.min(row, count - r0);
                    Integer[] order = new Integer[len];
                    for (int k = 0; k < len; k++) {
                        order[k] = k;
                    }
                    final int base0 = r0;
                    float[] tt = t;
                    Arrays.sort(order, (x, y) -> Float.compare(Math.abs(tt[base0 + x]), Math.abs(tt[base0 + y])));
                    float[] out = new float[len];
                    for (int rank = 0; rank < len; rank++) {
                        int k = order[rank];
                        double r = len > 1 ? (double) rank / (len - 1) : 0;   // 0 for the smallest, 1 for the largest
                        double prob = (plan.density - plan.epsilon) + 2 * plan.epsilon * r;
                        float v = t[r0 + k];
                        out[k] = uniform(nameKey, model, first + r0 + k) < prob ? v * plan.rescale : 0f;
                    }
                    System.arraycopy(out, 0, t, r0, len);
                }
        }
        return t;
    }

    private static void read(TensorJob job, long first, int count, float[] b, float[][] m) throws IOException {
        job.base().readFloats(first, b, 0, count);
        for (int i = 0; i < m.length; i++) {
            job.models().get(i).readFloats(first, m[i], 0, count);
        }
    }

    /** Elements per chunk: about Chunks.CHUNK, a whole number of rows (DELLA ranks within rows). */
    private static int chunk(long numel, int row) {
        long rows = Math.max(1, Chunks.CHUNK / Math.max(1, row));
        return (int) Math.max(1, Math.min(numel, rows * row));
    }

    /** The key of a tensor's draws: its name and the seed, mixed. */
    static long nameKey(String tensor, long seed) {
        return mix(tensor.hashCode() * 0x9E3779B97F4A7C15L ^ seed);
    }

    /** A uniform double in [0, 1) from (seed and tensor, model, element): SplitMix64's finaliser. */
    static double uniform(long nameKey, int model, long element) {
        long z = nameKey + 0x9E3779B97F4A7C15L * (element + 1) + 0xBF58476D1CE4E5B9L * (model + 1);
        return (mix(z) >>> 11) * 0x1.0p-53;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
