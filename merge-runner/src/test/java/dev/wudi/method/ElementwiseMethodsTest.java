package dev.wudi.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
