package dev.wudi.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.reference.GramFormReference;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import dev.wudi.model.Layout;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A method other than WUDI scored with WUDI's interference loss: the output is the method's, bit for bit, and the
 * losses are the paper's literal formula (in double) at the sum of task vectors and at the method's tau_m, for a
 * plain [out, in] weight, a Conv1D weight stored [in, out] and a stack of experts.
 *
 * <p>Tolerance: the scored loss comes from the float32 Gram form (C and D accumulated over dot products of at most
 * 40 terms, relative error ~40 * 2^-24 = 2.4e-6 each), and L = &lt;P - 2D, tau&gt; + K cancels terms up to ~10 times
 * the result here, so 1e-4 of the literal value holds with margin, as for WUDI's own loss (GramFormReferenceTest).
 */
class InterferenceScoreTest {

    @TempDir
    Path tmp;

    private final List<SafetensorsFile> open = new ArrayList<>();

    @AfterEach
    void close() {
        open.forEach(SafetensorsFile::close);
    }

    private TensorRef ref(String name, float[] values, long[] shape) throws IOException {
        Path p = tmp.resolve(name + ".safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(new TensorSpec("w", DType.F32, shape)),
                Map.of())) {
            w.writeFloats(values, 0, values.length);
            w.finish();
        }
        SafetensorsFile f = SafetensorsFile.open(p);
        open.add(f);
        return new TensorRef(f, f.tensor("w"));
    }

    /** d[0] the base, d[1..n] fine-tunes: the base plus a task vector of RMS ~0.01 (about a CLIP fine-tune's). */
    private static float[][] data(int n, int len, long seed) {
        Random r = new Random(seed);
        float[][] d = new float[n + 1][len];
        for (int j = 0; j < len; j++) {
            d[0][j] = (float) (r.nextGaussian() * 0.05);
            for (int i = 1; i <= n; i++) {
                d[i][j] = d[0][j] + (float) (r.nextGaussian() * 0.01);
            }
        }
        return d;
    }

    private TensorJob job(float[][] d, long[] shape, Layout layout) throws IOException {
        List<TensorRef> models = new ArrayList<>();
        List<Integer> idx = new ArrayList<>();
        for (int i = 1; i < d.length; i++) {
            models.add(ref("m" + i, d[i], shape));
            idx.add(i - 1);
        }
        return new TensorJob("w", ref("base", d[0], shape), models, DType.F32, layout, idx, TensorParameters.NONE);
    }

    /** Matrix e of a stored array in the paper's [rows, cols] (turned from [cols, rows] where transposed). */
    private static float[] paper(float[] stored, int e, int rows, int cols, boolean transposed) {
        float[] out = new float[rows * cols];
        int at = e * rows * cols;
        for (int a = 0; a < rows; a++) {
            for (int b = 0; b < cols; b++) {
                out[a * cols + b] = transposed ? stored[at + b * rows + a] : stored[at + a * cols + b];
            }
        }
        return out;
    }

    /** The literal loss summed over the matrices, at tau_m = merged - W_0 (merged null: at sum_i tau_i). */
    private static double literal(float[][] d, float[] merged, int matrices, int rows, int cols, boolean transposed) {
        double total = 0;
        for (int e = 0; e < matrices; e++) {
            float[] w0 = paper(d[0], e, rows, cols, transposed);
            List<float[]> taus = new ArrayList<>();
            float[] sum = new float[w0.length];
            for (int i = 1; i < d.length; i++) {
                float[] w = paper(d[i], e, rows, cols, transposed);
                for (int j = 0; j < w.length; j++) {
                    w[j] -= w0[j];
                    sum[j] += w[j];
                }
                taus.add(w);
            }
            float[] tauM = sum;
            if (merged != null) {
                tauM = paper(merged, e, rows, cols, transposed);
                for (int j = 0; j < tauM.length; j++) {
                    tauM[j] -= w0[j];
                }
            }
            total += GramFormReference.literalLoss(tauM, rows, cols, taus);
        }
        return total;
    }

    private void scoredAsTheLiteralLoss(long[] shape, Layout layout, int matrices, int rows, int cols,
                                        boolean transposed) throws IOException {
        int len = matrices * rows * cols;
        float[][] d = data(3, len, shape.length * 31L + rows);
        TensorJob job = job(d, shape, layout);
        TensorRule ties = new Ties(0.5, 1.0);
        ElementwiseMethodsTest.Collect plain = new ElementwiseMethodsTest.Collect(len);
        TensorOutcome unscored = ties.apply(job, plain);
        ElementwiseMethodsTest.Collect scoredOut = new ElementwiseMethodsTest.Collect(len);
        TensorOutcome scored = new InterferenceScore(ties).apply(job, scoredOut);
        assertFalse(unscored.hasLoss());
        assertArrayEquals(plain.out, scoredOut.out, "the method's output is unchanged by scoring it");
        double before = literal(d, null, matrices, rows, cols, transposed);
        double after = literal(d, scoredOut.out, matrices, rows, cols, transposed);
        assertEquals(before, scored.lossBefore(), 1e-4 * before, layout.label());
        assertEquals(after, scored.lossAfter(), 1e-4 * after, layout.label());
        assertTrue(Math.abs(before - after) > 1e-3 * before, "TIES moves tau_m away from the sum: " + before + " " + after);
    }

    @Test
    void aPlainWeightIsScoredAsTheLiteralLoss() throws IOException {
        scoredAsTheLiteralLoss(new long[] {24, 40}, Layout.OUT_IN, 1, 24, 40, false);
    }

    @Test
    void aConv1DWeightIsScoredInThePapersOrientation() throws IOException {
        // stored [in = 40, out = 24]: the loss is that of the [24, 40] matrix, not of the stored one
        scoredAsTheLiteralLoss(new long[] {40, 24}, Layout.IN_OUT, 1, 24, 40, true);
    }

    @Test
    void expertsAreScoredOneMatrixEachAndSummed() throws IOException {
        scoredAsTheLiteralLoss(new long[] {3, 16, 20}, Layout.EXPERTS_OUT_IN, 3, 16, 20, false);
    }

    @Test
    void taskArithmeticAtScaleOneLeavesTheLossWhereItStarts() throws IOException {
        float[][] d = data(4, 24 * 40, 5);
        TensorJob job = job(d, new long[] {24, 40}, Layout.OUT_IN);
        TensorOutcome o = new InterferenceScore(new TaskArithmetic(1.0))
                .apply(job, new ElementwiseMethodsTest.Collect(24 * 40));
        // tau_m = (W_0 + sum tau_i) - W_0 = sum tau_i up to float32 rounding of the weights (2^-24 relative to W_0)
        assertEquals(o.lossBefore(), o.lossAfter(), 1e-4 * o.lossBefore());
    }

    @Test
    void onlyMatricesOfTheirLayoutAreScored() {
        assertTrue(InterferenceScore.applies(new long[] {4, 5}, Layout.OUT_IN, 2));
        assertFalse(InterferenceScore.applies(new long[] {5}, Layout.VECTOR, 2));
        assertFalse(InterferenceScore.applies(new long[] {4, 5}, Layout.OUT_IN, 0));
        assertFalse(InterferenceScore.applies(new long[] {4, 5}, Layout.EXPERTS_OUT_IN, 2));
    }
}
