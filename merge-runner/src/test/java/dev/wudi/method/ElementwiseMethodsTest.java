package dev.wudi.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Average, task arithmetic and TIES against direct in-memory formulas, across chunk boundaries. */
class ElementwiseMethodsTest {

    @TempDir
    Path tmp;

    private final List<SafetensorsFile> open = new ArrayList<>();

    @AfterEach
    void close() {
        open.forEach(SafetensorsFile::close);
    }

    /** Collects what a rule writes. */
    static final class Collect implements TensorSink {
        float[] out;
        int n;

        Collect(long numel) {
            out = new float[(int) numel];
        }

        @Override
        public void writeFloats(float[] src, int off, int count) {
            System.arraycopy(src, off, out, n, count);
            n += count;
        }

        @Override
        public void writeRaw(ByteBuffer bytes) {
            throw new AssertionError("float output expected");
        }
    }

    private TensorRef ref(String name, float[] values) throws IOException {
        Path p = tmp.resolve(name + ".safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(new TensorSpec("w", DType.F32,
                new long[] {values.length})), Map.of())) {
            w.writeFloats(values, 0, values.length);
            w.finish();
        }
        SafetensorsFile f = SafetensorsFile.open(p);
        open.add(f);
        return new TensorRef(f, f.tensor("w"));
    }

    private float[][] data(int n, int len, long seed) {
        Random r = new Random(seed);
        float[][] d = new float[n + 1][len];
        for (int j = 0; j < len; j++) {
            d[0][j] = (float) r.nextGaussian();
            for (int i = 1; i <= n; i++) {
                d[i][j] = d[0][j] + (float) (r.nextGaussian() * 0.01);
            }
        }
        // A few exact ties in magnitude and exact zeros, which TIES must handle.
        d[1][3] = d[0][3];
        if (n >= 3) {
            d[2][5] = d[0][5] + 0.02f;
            d[3][5] = d[0][5] - 0.02f;
        }
        return d;
    }

    private TensorJob job(float[][] d) throws IOException {
        List<TensorRef> models = new ArrayList<>();
        for (int i = 1; i < d.length; i++) {
            models.add(ref("m" + i, d[i]));
        }
        return new TensorJob("w", ref("base", d[0]), models, DType.F32);
    }

    private static float[] run(TensorRule rule, TensorJob job) throws IOException {
        Collect c = new Collect(job.numel());
        rule.apply(job, c);
        assertEquals(job.numel(), c.n);
        return c.out;
    }

    /** Longer than one chunk so chunk boundaries are crossed. */
    private static final int LEN = Chunks.CHUNK + 12345;

    @Test
    void averageAndTaskArithmetic() throws IOException {
        float[][] d = data(3, LEN, 1);
        TensorJob job = job(d);
        float[] avg = run(new Average(), job);
        float[] ta = run(new TaskArithmetic(0.3), job);
        for (int j = 0; j < LEN; j++) {
            assertEquals((d[1][j] + d[2][j] + d[3][j]) / 3f, avg[j], 1e-6f);
            float sum = (d[1][j] - d[0][j]) + (d[2][j] - d[0][j]) + (d[3][j] - d[0][j]);
            assertEquals(d[0][j] + 0.3f * sum, ta[j], 1e-6f);
        }
    }

    @Test
    void tiesMatchesDirectFormula() throws IOException {
        float[][] d = data(3, LEN, 2);
        int n = 3;
        double density = 0.2;
        float[] got = run(new Ties(density, 1.0), job(d));
        // Direct: thresholds by sorting each |tau_i|.
        float[][] tau = new float[n][LEN];
        float[] thr = new float[n];
        long k = (long) Math.ceil(density * LEN);
        for (int i = 0; i < n; i++) {
            float[] mag = new float[LEN];
            for (int j = 0; j < LEN; j++) {
                tau[i][j] = d[i + 1][j] - d[0][j];
                mag[j] = Math.abs(tau[i][j]);
            }
            Arrays.sort(mag);
            thr[i] = mag[(int) (LEN - k)];
        }
        float[] want = new float[LEN];
        for (int j = 0; j < LEN; j++) {
            float elect = 0;
            for (int i = 0; i < n; i++) {
                if (Math.abs(tau[i][j]) >= thr[i]) {
                    elect += tau[i][j];
                }
            }
            float s = 0;
            int c = 0;
            for (int i = 0; i < n; i++) {
                float t = tau[i][j];
                if (Math.abs(t) >= thr[i] && t != 0 && elect != 0 && Math.signum(t) == Math.signum(elect)) {
                    s += t;
                    c++;
                }
            }
            want[j] = c == 0 ? d[0][j] : d[0][j] + s / c;
        }
        assertArrayEquals(want, got);
    }

    @Test
    void magnitudeThresholdIsExactKthLargest() throws IOException {
        float[][] d = data(1, 5000, 3);
        TensorRef base = ref("b", d[0]);
        TensorRef m = ref("m", d[1]);
        float[] mag = new float[5000];
        for (int j = 0; j < 5000; j++) {
            mag[j] = Math.abs(d[1][j] - d[0][j]);
        }
        Arrays.sort(mag);
        for (long k : new long[] {1, 2, 17, 1000, 4999, 5000}) {
            assertEquals(mag[(int) (5000 - k)], MagnitudeThreshold.kthLargest(base, m, 5000, k), "k=" + k);
        }
    }

    /** Per-model weights and densities and global settings, as a config gives them. */
    private static TensorParameters params(double[] weight, double[] density, double epsilon, double gamma,
                                           double lambda) {
        return new TensorParameters() {
            @Override
            public Double global(String name) {
                return name.equals("lambda") ? lambda : null;
            }

            @Override
            public Double model(int k, String name) {
                switch (name) {
                    case "weight": return weight[k];
                    case "density": return density[k];
                    case "epsilon": return epsilon;
                    case "gamma": return gamma;
                    default: return global(name);
                }
            }
        };
    }

    /**
     * DARE, Model Breadcrumbs and DELLA, with and without sign consensus, against their definitions computed here in
     * double from the same task vectors and the same keyed draws ({@link SparseTaskArithmetic#uniform}): masks,
     * whole-tensor L1 rescale, weights, election, normalisation, lambda. Across a chunk boundary; DELLA's ranks in
     * rows of a [rows, cols] tensor.
     */
    @Test
    void sparseMethodsMatchTheirDefinitions() throws IOException {
        double[] weight = {0.5, 1.0, 0.8};
        double[] density = {0.5, 0.7, 0.3};
        SparseTaskArithmetic.Sparsify[] kinds = SparseTaskArithmetic.Sparsify.values();
        for (SparseTaskArithmetic.Sparsify kind : kinds) {
            for (boolean consensus : new boolean[] {false, true}) {
                // a million gaussian task-vector entries hold equal magnitudes, and the definition ranks ties
                // arbitrarily: the magnitude-ranked methods are checked where the ranks are distinct
                int len = kind == SparseTaskArithmetic.Sparsify.RANDOM ? LEN : 3000;
                float[][] d = data(3, len, 11);
                TensorJob plain = job(d);
                TensorJob job = new TensorJob("w", plain.base(), plain.models(), DType.F32, plain.layout(),
                        List.of(0, 1, 2), params(weight, density, 0.1, 0.05, 0.9));
                boolean normalize = consensus;
                SparseTaskArithmetic rule = new SparseTaskArithmetic("t", kind, consensus, normalize, true, 7, 1, 1);
                float[] got = run(rule, job);
                double[] want = reference(d, kind, consensus, normalize, weight, density, 0.1, 0.05, 0.9, 7, len);
                for (int j = 0; j < len; j++) {
                    assertEquals(want[j], got[j], 1e-6, kind + (consensus ? " ties" : " linear") + " element " + j);
                }
                float[] again = run(rule, job);
                assertArrayEquals(got, again, "the keyed draws give the same bytes on every run");
                float[] otherSeed = run(new SparseTaskArithmetic("t", kind, consensus, normalize, true, 8, 1, 1), job);
                if (kind != SparseTaskArithmetic.Sparsify.OUTLIERS) {
                    assertFalse(java.util.Arrays.equals(got, otherSeed), kind + ": another seed, other draws");
                }
            }
        }
    }

    /** The definitions of SparseTaskArithmetic's class comment, in double (1-D: DELLA's row is the whole tensor). */
    private static double[] reference(float[][] d, SparseTaskArithmetic.Sparsify kind, boolean consensus,
                                      boolean normalize, double[] weight, double[] density, double eps, double gamma,
                                      double lambda, long seed, int len) {
        int n = d.length - 1;
        long key = SparseTaskArithmetic.nameKey("w", seed);
        double[][] w = new double[n][len];
        for (int i = 0; i < n; i++) {
            double[] tau = new double[len];
            for (int j = 0; j < len; j++) {
                tau[j] = d[i + 1][j] - d[0][j];                    // float32 subtraction, as the rule forms tau
                tau[j] = (float) tau[j];
            }
            boolean[] keep = new boolean[len];
            Integer[] order = new Integer[len];
            for (int j = 0; j < len; j++) {
                order[j] = j;
            }
            java.util.Arrays.sort(order, (x, y) -> Double.compare(Math.abs(tau[x]), Math.abs(tau[y])));
            if (kind == SparseTaskArithmetic.Sparsify.RANDOM) {
                for (int j = 0; j < len; j++) {
                    keep[j] = SparseTaskArithmetic.uniform(key, i, j) < density[i];
                }
            } else if (kind == SparseTaskArithmetic.Sparsify.OUTLIERS) {
                long target = (long) (density[i] * len);
                long top = (long) (gamma * len);
                long bottom = len - target - top;
                for (long r : new long[] {bottom, len - top}) {   // the cut ranks are defined: no tie across a cut
                    assertTrue(Math.abs(tau[order[(int) r]]) > Math.abs(tau[order[(int) r - 1]]), "tie at rank " + r);
                }
                for (int r = (int) bottom; r < len - top; r++) {
                    keep[order[r]] = true;                             // ranks [bottom, len - top) by magnitude
                }
            } else {
                for (int r = 0; r < len; r++) {
                    double p = (density[i] - eps) + 2 * eps * r / (len - 1);
                    keep[order[r]] = SparseTaskArithmetic.uniform(key, i, order[r]) < p;
                }
            }
            double all = 0;
            double kept = 0;
            for (int j = 0; j < len; j++) {
                all += Math.abs(tau[j]);
                kept += keep[j] ? Math.abs(tau[j]) : 0;
            }
            double scale = all >= 1e-7 && kept >= 1e-7 ? all / kept : 1;
            for (int j = 0; j < len; j++) {
                w[i][j] = keep[j] ? weight[i] * tau[j] * scale : 0;
            }
        }
        double[] out = new double[len];
        for (int j = 0; j < len; j++) {
            double sum = 0;
            for (int i = 0; i < n; i++) {
                sum += w[i][j];
            }
            double mixed = 0;
            double div = 0;
            for (int i = 0; i < n; i++) {
                boolean in = !consensus || (w[i][j] != 0 && (w[i][j] > 0) == (sum >= 0));
                if (in) {
                    mixed += w[i][j];
                    div += weight[i];
                }
            }
            if (div == 0) {
                div = 1;
            }
            out[j] = d[0][j] + lambda * (normalize ? mixed / div : mixed);
        }
        return out;
    }

    private static TensorParameters globals(java.util.Map<String, Double> g, double[] weight) {
        return new TensorParameters() {
            @Override
            public Double global(String name) {
                return g.get(name);
            }

            @Override
            public Double model(int k, String name) {
                return name.equals("weight") && weight != null ? weight[k] : g.get(name);
            }
        };
    }

    private TensorJob shaped(float[][] d, long[] shape, TensorParameters p) throws IOException {
        List<TensorRef> models = new ArrayList<>();
        for (int i = 1; i < d.length; i++) {
            models.add(ref("m" + i, d[i]).slice(0, shape));
        }
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < models.size(); i++) {
            idx.add(i);
        }
        return new TensorJob("w", ref("base", d[0]).slice(0, shape), models, DType.F32,
                TensorJob.defaultLayout(shape.length), idx, p);
    }

    /** slerp against its formula in double, and its linear fallback for collinear tensors. */
    @Test
    void slerpMatchesItsFormula() throws IOException {
        float[][] d = data(1, 5000, 21);
        for (int j = 0; j < 5000; j++) {
            d[1][j] = (float) (d[1][j] + 0.3 * Math.sin(j));   // far from collinear with the base
        }
        TensorJob job = shaped(d, new long[] {5000}, globals(java.util.Map.of("t", 0.3), null));
        float[] got = run(new Slerp(null), job);
        double aa = 0;
        double bb = 0;
        double ab = 0;
        for (int j = 0; j < 5000; j++) {
            aa += (double) d[0][j] * d[0][j];
            bb += (double) d[1][j] * d[1][j];
            ab += (double) d[0][j] * d[1][j];
        }
        double theta = Math.acos(ab / Math.sqrt(aa * bb));
        assertTrue(Math.abs(Math.cos(theta)) < Slerp.COLLINEAR, "the test's tensors are not collinear");
        for (int j = 0; j < 5000; j++) {
            double want = (Math.sin(0.7 * theta) * d[0][j] + Math.sin(0.3 * theta) * d[1][j]) / Math.sin(theta);
            assertEquals(want, got[j], 1e-5, "element " + j);
        }
        float[][] c = {d[0].clone(), new float[5000]};
        for (int j = 0; j < 5000; j++) {
            c[1][j] = 2 * d[0][j];
        }
        float[] lerp = run(new Slerp(null), shaped(c, new long[] {5000}, globals(java.util.Map.of("t", 0.25), null)));
        for (int j = 0; j < 5000; j++) {
            assertEquals(0.75 * c[0][j] + 0.25 * c[1][j], lerp[j], 1e-6, "collinear: linear");
        }
    }

    /** nuslerp over the whole tensor, its rows and its columns, against its formula in double. */
    @Test
    void nuslerpMatchesItsFormula() throws IOException {
        int rows = 40;
        int cols = 50;
        float[][] d = data(2, rows * cols, 22);
        double[] weight = {1.0, 3.0};                        // t = 3 / 4
        for (String mode : new String[] {"flatten", "rows", "columns"}) {
            java.util.Map<String, Double> g = new java.util.HashMap<>();
            g.put("nuslerp_flatten", mode.equals("flatten") ? 1.0 : 0.0);
            g.put("nuslerp_row_wise", mode.equals("columns") ? 1.0 : 0.0);
            float[] got = run(new NuSlerp(), shaped(d, new long[] {rows, cols}, globals(g, weight)));
            int groups = mode.equals("flatten") ? 1 : mode.equals("rows") ? rows : cols;
            for (int k = 0; k < groups; k++) {
                List<Integer> members = new ArrayList<>();
                for (int e = 0; e < rows * cols; e++) {
                    if (mode.equals("flatten") || (mode.equals("rows") ? e / cols : e % cols) == k) {
                        members.add(e);
                    }
                }
                double aa = 0;
                double bb = 0;
                double ab = 0;
                for (int e : members) {
                    double a = d[1][e] - d[0][e];
                    double b = d[2][e] - d[0][e];
                    aa += a * a;
                    bb += b * b;
                    ab += a * b;
                }
                double theta = Math.acos(Math.max(-1, Math.min(1, ab / (Math.sqrt(aa) * Math.sqrt(bb)))));
                for (int e : members) {
                    double a = d[1][e] - d[0][e];
                    double b = d[2][e] - d[0][e];
                    double want = d[0][e] + (Math.sin(0.25 * theta) * a + Math.sin(0.75 * theta) * b) / Math.sin(theta);
                    assertEquals(want, got[e], 1e-5, mode + " element " + e);
                }
            }
        }
    }

    /** nuslerp without a base model interpolates the two models' weights themselves (flattened). */
    @Test
    void nuslerpWithoutBaseInterpolatesTheModels() throws IOException {
        float[][] d = data(1, 600, 24);
        for (int j = 0; j < 600; j++) {
            d[1][j] += (float) (0.5 * Math.cos(j));
        }
        float[][] both = {d[0], d[0], d[1]};               // the first model stands in for the absent base
        float[] got = run(new NuSlerp(), shaped(both, new long[] {600}, globals(java.util.Map.of(
                NuSlerp.WITHOUT_BASE, 1.0, "nuslerp_flatten", 1.0), new double[] {1, 1})));
        double aa = 0;
        double bb = 0;
        double ab = 0;
        for (int j = 0; j < 600; j++) {
            aa += (double) d[0][j] * d[0][j];
            bb += (double) d[1][j] * d[1][j];
            ab += (double) d[0][j] * d[1][j];
        }
        double theta = Math.acos(ab / Math.sqrt(aa * bb));
        for (int j = 0; j < 600; j++) {
            double want = (Math.sin(0.5 * theta) * d[0][j] + Math.sin(0.5 * theta) * d[1][j]) / Math.sin(theta);
            assertEquals(want, got[j], 1e-5, "element " + j);
        }
    }

    /** model_stock's t from the mean pairwise cosine, for the whole tensor and per row, against its formula. */
    @Test
    void modelStockMatchesItsFormula() throws IOException {
        int rows = 30;
        int cols = 40;
        float[][] d = data(3, rows * cols, 23);
        for (boolean filterWise : new boolean[] {false, true}) {
            float[] got = run(new ModelStock(), shaped(d, new long[] {rows, cols},
                    globals(java.util.Map.of("filter_wise", filterWise ? 1.0 : 0.0), null)));
            int groups = filterWise ? rows : 1;
            for (int k = 0; k < groups; k++) {
                int from = filterWise ? k * cols : 0;
                int to = filterWise ? from + cols : rows * cols;
                double sum = 0;
                for (int a = 1; a <= 3; a++) {
                    for (int b = a + 1; b <= 3; b++) {
                        double ab = 0;
                        double aa = 0;
                        double bb = 0;
                        for (int e = from; e < to; e++) {
                            double x = d[a][e] - d[0][e];
                            double y = d[b][e] - d[0][e];
                            ab += x * y;
                            aa += x * x;
                            bb += y * y;
                        }
                        sum += ab / Math.sqrt(aa * bb);
                    }
                }
                double cos = sum / 3;
                double t = 3 * cos / (1 + 2 * cos);
                for (int e = from; e < to; e++) {
                    double mean = (d[1][e] + d[2][e] + d[3][e]) / 3.0;
                    assertEquals(t * mean + (1 - t) * d[0][e], got[e], 1e-5, (filterWise ? "row " : "") + e);
                }
            }
        }
    }

    /**
     * The cases the definitions leave open: density 1 drops nothing (dare_linear is then task arithmetic with the
     * weights); a single model keeps its own task vector (its sign is elected); where the weighted values cancel
     * exactly, the zero sum counts as positive (mergekit's "sum" consensus): the positive ones are kept.
     */
    @Test
    void sparseMethodsOpenCases() throws IOException {
        float[][] d = data(2, 2000, 31);
        TensorJob plain = job(d);
        double[] weight = {0.4, 0.6};
        TensorJob job = new TensorJob("w", plain.base(), plain.models(), DType.F32, plain.layout(), List.of(0, 1),
                params(weight, new double[] {1, 1}, 0.1, 0.01, 1));
        float[] dare = run(new SparseTaskArithmetic("t", SparseTaskArithmetic.Sparsify.RANDOM, false, false, true, 5, 1,
                1), job);
        float[] ta = run(new TaskArithmetic(1), job);
        for (int j = 0; j < 2000; j++) {
            assertEquals(ta[j], dare[j], 1e-6, "density 1: task arithmetic with the weights");
        }
        float[][] one = {d[0], d[1]};
        TensorJob single = new TensorJob("w", plain.base(), List.of(plain.models().get(0)), DType.F32, plain.layout(),
                List.of(0), params(new double[] {0.4}, new double[] {1}, 0.1, 0.01, 1));
        float[] kept = run(new SparseTaskArithmetic("t", SparseTaskArithmetic.Sparsify.RANDOM, true, true, true, 5, 1, 1),
                single);
        for (int j = 0; j < 2000; j++) {
            assertEquals(one[1][j], kept[j], 1e-6, "one model, normalised: its own weights");
        }
        float[][] cancel = {new float[2000], new float[2000], new float[2000]};
        for (int j = 0; j < 2000; j++) {
            cancel[0][j] = (j % 7) * 0.25f - 1;          // quarters: W_0 +- 0.5 and the differences are exact
            cancel[1][j] = cancel[0][j] + 0.5f;
            cancel[2][j] = cancel[0][j] - 0.5f;
        }
        TensorJob opposed = job(cancel);
        opposed = new TensorJob("w", opposed.base(), opposed.models(), DType.F32, opposed.layout(), List.of(0, 1),
                params(new double[] {1, 1}, new double[] {1, 1}, 0.1, 0.01, 1));
        float[] elected = run(new SparseTaskArithmetic("t", SparseTaskArithmetic.Sparsify.RANDOM, true, true, false, 5, 1,
                1), opposed);
        for (int j = 0; j < 2000; j++) {
            float tau = cancel[1][j] - cancel[0][j];       // +0.5 in float32: the positive task vector is kept
            assertEquals(cancel[0][j] + tau, elected[j], 1e-6, "a zero sum counts as positive");
        }
        float[] ties = run(new Ties(1.0, 1.0), opposed);
        assertArrayEquals(cancel[0], ties, "ties (this engine's): where the values cancel exactly, W_0 stays");
    }

    /**
     * mergekit's weighted forms against their definitions in double: linear sum_i w_i W_i / sum_i w_i (normalize
     * on) and without the division; task arithmetic W_0 + lambda sum_i w_i tau_i, divided by sum_i w_i under normalize;
     * ties with per-model density and weight (the sign elected from w_i tau_i, the mean weighted by the agreeing
     * models' weights) times lambda.
     */
    @Test
    void weightedFormsMatchTheirDefinitions() throws IOException {
        float[][] d = data(3, 3000, 41);
        TensorJob plain = job(d);
        double[] w = {0.2, 0.5, 1.3};
        for (boolean normalize : new boolean[] {true, false}) {
            TensorParameters p = weighted(Map.of("normalize", normalize ? 1.0 : 0.0, "lambda", 0.7), w,
                    new double[] {0.3, 0.6, 1});
            TensorJob job = new TensorJob("w", plain.base(), plain.models(), DType.F32, plain.layout(),
                    List.of(0, 1, 2), p);
            float[] linear = run(new Average(), job);
            float[] ta = run(new TaskArithmetic(0.3), job);
            float[] ties = run(new Ties(0.2, 1.0), job);
            double sw = w[0] + w[1] + w[2];
            double[] cut = new double[3];
            for (int i = 0; i < 3; i++) {
                double[] mags = new double[3000];
                for (int j = 0; j < 3000; j++) {
                    mags[j] = Math.abs(d[i + 1][j] - d[0][j]);
                }
                double[] sorted = mags.clone();
                java.util.Arrays.sort(sorted);
                long k = (long) Math.ceil(new double[] {0.3, 0.6, 1}[i] * 3000);
                cut[i] = k >= 3000 ? 0 : sorted[(int) (3000 - k)];       // the k-th largest magnitude
            }
            for (int j = 0; j < 3000; j++) {
                double lin = 0;
                double sum = 0;
                for (int i = 0; i < 3; i++) {
                    lin += w[i] * d[i + 1][j];
                    sum += w[i] * (float) (d[i + 1][j] - d[0][j]);
                }
                assertEquals(normalize ? lin / sw : lin, linear[j], 1e-5, "linear " + j);
                assertEquals(d[0][j] + 0.7 * (normalize ? sum / sw : sum), ta[j], 1e-5, "task arithmetic " + j);
                double elected = 0;
                for (int i = 0; i < 3; i++) {
                    double t = (float) (d[i + 1][j] - d[0][j]);
                    if (Math.abs(t) >= cut[i]) {
                        elected += w[i] * t;
                    }
                }
                double agreeing = 0;
                double weights = 0;
                for (int i = 0; i < 3; i++) {
                    double t = (float) (d[i + 1][j] - d[0][j]);
                    if (t != 0 && Math.abs(t) >= cut[i] && elected != 0 && (w[i] * t > 0) == (elected > 0)) {
                        agreeing += w[i] * t;
                        weights += w[i];
                    }
                }
                double want = weights == 0 ? d[0][j] : d[0][j] + 0.7 * (normalize ? agreeing / weights : agreeing);
                assertEquals(want, ties[j], 1e-5, "ties " + j);
            }
        }
    }

    /** Global settings, and each model's weight and density, as a config gives them. */
    private static TensorParameters weighted(Map<String, Double> global, double[] weight, double[] density) {
        return new TensorParameters() {
            @Override
            public Double global(String name) {
                return global.get(name);
            }

            @Override
            public Double model(int k, String name) {
                return name.equals("weight") ? weight[k] : name.equals("density") ? density[k] : global.get(name);
            }
        };
    }

    /**
     * ties as mergekit computes it, against its definition written here in double: rescale multiplies each trimmed
     * task vector by sum |tau_i| / sum |kept tau_i| before the weights and the election; where the agreeing models'
     * weights sum to 0 (0.5 and -0.5, whose weighted values agree), the divisor is 1, normalize on or off, so the
     * element is W_0 + lambda * the weighted sum, not W_0. Across a chunk boundary.
     */
    @Test
    void tiesRescaleAndZeroDivisorAsMergekit() throws IOException {
        int len = Chunks.CHUNK + 777;
        float[][] d = data(3, len, 51);
        for (int j = 0; j < len; j += 3) {
            d[2][j] = d[0][j] - (d[1][j] - d[0][j]);   // model 2's task vector the opposite of model 1's here
        }
        double[][] cases = {
            // weights, densities, lambda, normalize, rescale
            {1, 0.6, 0.3, 0.3, 0.5, 1, 1.0, 1, 1},
            {1, 0.6, 0.3, 0.3, 0.5, 1, 0.7, 0, 1},
            {0.5, -0.5, 0, 1, 1, 1, 1.0, 1, 0},
            {0.5, -0.5, 0, 1, 1, 1, 1.0, 0, 0},
            {0.5, -0.5, 0.25, 0.4, 0.4, 0.6, 0.8, 1, 1},
        };
        for (double[] c : cases) {
            double[] w = {c[0], c[1], c[2]};
            double[] dens = {c[3], c[4], c[5]};
            double lambda = c[6];
            TensorParameters p = weighted(Map.of("lambda", lambda, "normalize", c[7], "rescale", c[8]), w, dens);
            TensorJob plain = job(d);
            float[] got = run(new Ties(0.2, 1.0), new TensorJob("w", plain.base(), plain.models(), DType.F32,
                    plain.layout(), List.of(0, 1, 2), p));
            double[][] kept = new double[3][len];
            double[] factor = new double[3];
            for (int i = 0; i < 3; i++) {
                double[] mag = new double[len];
                for (int j = 0; j < len; j++) {
                    mag[j] = Math.abs((float) (d[i + 1][j] - d[0][j]));
                }
                double[] sorted = mag.clone();
                Arrays.sort(sorted);
                long k = (long) Math.ceil(dens[i] * len);
                double cut = k >= len ? 0 : sorted[(int) (len - k)];
                double all = 0;
                double sumKept = 0;
                for (int j = 0; j < len; j++) {
                    kept[i][j] = mag[j] >= cut ? (float) (d[i + 1][j] - d[0][j]) : 0;
                    all += mag[j];
                    sumKept += Math.abs(kept[i][j]);
                }
                factor[i] = c[8] != 0 && all >= 1e-7 && sumKept >= 1e-7 ? all / sumKept : 1;
            }
            int changedWithZeroDivisor = 0;
            for (int j = 0; j < len; j++) {
                double elected = 0;
                for (int i = 0; i < 3; i++) {
                    elected += w[i] * factor[i] * kept[i][j];
                }
                double sum = 0;
                double div = 0;
                boolean any = false;
                for (int i = 0; i < 3; i++) {
                    double wt = w[i] * factor[i] * kept[i][j];
                    if (elected != 0 && wt != 0 && (wt > 0) == (elected > 0)) {
                        sum += wt;
                        div += w[i];
                        any = true;
                    }
                }
                double want = !any ? d[0][j] : d[0][j] + lambda * (c[7] != 0 ? sum / (div == 0 ? 1 : div) : sum);
                assertEquals(want, got[j], 2e-6, Arrays.toString(c) + " element " + j);
                changedWithZeroDivisor += any && div == 0 && got[j] != d[0][j] ? 1 : 0;
            }
            if (c[2] == 0) {
                assertTrue(changedWithZeroDivisor > len / 4, "weights 0.5 and -0.5 that agree: W_0 + lambda * the"
                        + " weighted sum, not W_0 (" + changedWithZeroDivisor + " elements)");
            }
        }
    }
}
