package dev.wudi.backend.cpu;

import dev.wudi.adam.AdamStepScalars;
import dev.wudi.linalg.NativeFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;
import dev.wudi.cpu.CpuAdamKernel;
import dev.wudi.solver.Adam;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.TestTensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The native Adam pass (cuda-kernels/cpu/fused_adam_cpu.c) against its reference, {@link Adam#stepGramForm}
 * and {@link Adam#gramLossTerms}: bit for bit on m, v and tau_m, and on the double loss terms; then whole
 * solves through the native and the Java pass, which must give the same bits.
 */
class NativeAdamPassTest {

    @BeforeEach                                        // per test, so that each shows as skipped, with the reason
    void needTheLibrary() {
        Assumptions.assumeTrue(CpuAdamKernel.available(), "the native CPU Adam pass is " + CpuAdamKernel.status());
    }

    /** Gaussian values with edge cases sprinkled in: zeros of both signs, subnormals, tiny and huge values. */
    private static float[] values(Random r, int n, float scale) {
        float[] edge = {0.0f, -0.0f, Float.MIN_VALUE, -Float.MIN_VALUE, 1e-39f, -3e-40f, 1e-30f, 3e25f, -3e25f, 1.0f};
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextInt(8) == 0 ? edge[r.nextInt(edge.length)] : (float) (r.nextGaussian() * scale);
        }
        return x;
    }

    /**
     * Five steps on n elements with P, D, m, v, tau full of edge values (so v overflows to infinity in
     * places and denominators hit eps), for both forms of lerp_ (weight 0.1 and 0.7), the loss on and off.
     */
    @ParameterizedTest(name = "n={0} beta1={1}")
    @CsvSource({"1, 0.9", "7, 0.9", "16, 0.3", "31, 0.9", "4096, 0.9", "12365, 0.9", "12365, 0.3"})
    void stepsMatchTheJavaReferenceBitForBit(int n, float beta1) {
        Random r = new Random(n * 7L + (long) (beta1 * 10));
        float[] p = values(r, n, 1e-2f);
        float[] d = values(r, n, 1e-2f);
        float[] m = values(r, n, 1e-3f);
        float[] v = values(r, n, 1e-6f);
        for (int i = 0; i < n; i++) {
            v[i] = Math.abs(v[i]);                     // a second moment is never negative
        }
        float[] tau = values(r, n, 1e-2f);
        AdamConfig cfg = new AdamConfig(1e-3f, beta1, 0.999f, 1e-8f, 5);
        try (NativeFloats np = NativeFloats.of(p); NativeFloats nd = NativeFloats.of(d); NativeFloats nm = NativeFloats.of(m);
             NativeFloats nv = NativeFloats.of(v); NativeFloats nt = NativeFloats.of(tau)) {
            for (int t = 1; t <= 5; t++) {
                AdamStepScalars s = Adam.scalars(cfg, t);
                boolean withLoss = t % 2 == 1;
                double expectedLoss = 0.0;
                for (int i = 0; i < n; i += AdamPass.CHUNK) {  // the Java pass: chunk by chunk, terms before update
                    int end = Math.min(n, i + AdamPass.CHUNK);
                    if (withLoss) {
                        expectedLoss += Adam.gramLossTerms(p, d, tau, i, end);
                    }
                    Adam.stepGramForm(s, p, d, m, v, tau, i, end);
                }
                double loss = CpuAdamKernel.fusedAdam(np.address(), nd.address(), nm.address(), nv.address(),
                        nt.address(), n, s.lerpWeight(), s.beta2(), s.oneMinusBeta2(), s.bc2Sqrt(), s.eps(),
                        s.negStepSize(), withLoss, AdamPass.CHUNK);
                assertEquals(withLoss ? expectedLoss : 0.0, loss, "loss terms at step " + t);
                assertArrayEquals(m, nm.toArray(), "m after step " + t);
                assertArrayEquals(v, nv.toArray(), "v after step " + t);
                assertArrayEquals(tau, nt.toArray(), "tau after step " + t);
            }
            assertEquals(Adam.gramLossTerms(p, d, tau, 0, n),
                    CpuAdamKernel.gramLossTerms(np.address(), nd.address(), nt.address(), n), "loss terms alone");
        }
        if (n >= 4096) {                               // the edge values did reach the corners they are for
            boolean infiniteV = false;
            boolean subnormalTau = false;
            for (int i = 0; i < n; i++) {
                infiniteV |= Float.isInfinite(v[i]);
                subnormalTau |= tau[i] != 0 && Math.abs(tau[i]) < Float.MIN_NORMAL;
            }
            assertTrue(infiniteV, "some g^2 overflowed into v");
            assertTrue(subnormalTau, "some tau stayed subnormal");
        }
    }

    private static WudiResult solve(CpuBackend.AdamPassChoice pass, int rows, int cols, List<float[]> taus,
                                    AdamConfig cfg, List<Double> losses, boolean wantLoss) {
        try (CpuBackend backend = new CpuBackend(2, pass);
             WudiProblem problem = backend.newProblem("w", rows, cols)) {
            for (float[] t : taus) {
                problem.addTaskVector(t);
            }
            StepListener listener = wantLoss ? (t, l) -> losses.add(l)
                    : StepListener.stepsOnly(t -> losses.add(Double.NaN));
            return problem.solveAdam(cfg, listener);
        }
    }

    /**
     * Whole solves, two row blocks on two threads ([400, 350] and [300, 700]: over 2 x 65536 elements): the
     * native and the Java pass give the same tau_m and the same losses at every step, to the bit.
     */
    @ParameterizedTest(name = "[{0}, {1}]")
    @CsvSource({"400, 350", "300, 700"})
    void nativeAndJavaSolvesAgreeToTheBit(int rows, int cols) {
        List<float[]> taus = TestTensors.taskVectors(rows + 13L * cols, 4, rows, cols, 0.01f);
        AdamConfig cfg = AdamConfig.paper().withLr(1e-4f).withIterations(25);
        List<Double> nativeLoss = new ArrayList<>();
        List<Double> javaLoss = new ArrayList<>();
        WudiResult nat = solve(CpuBackend.AdamPassChoice.NATIVE, rows, cols, taus, cfg, nativeLoss, true);
        WudiResult java = solve(CpuBackend.AdamPassChoice.JAVA, rows, cols, taus, cfg, javaLoss, true);
        assertArrayEquals(java.tauM(), nat.tauM());
        assertEquals(javaLoss, nativeLoss);
        assertEquals(java.lossBefore(), nat.lossBefore());
        assertEquals(java.lossAfter(), nat.lossAfter());
        assertTrue(nat.lossAfter() < nat.lossBefore(), "the solve reduced the loss");
    }

    /** A listener that does not want the loss changes nothing in the result; the backend skips the loss. */
    @Test
    void skippingTheLossChangesNothing() {
        List<float[]> taus = TestTensors.taskVectors(5, 3, 300, 500, 0.01f);
        AdamConfig cfg = AdamConfig.paper().withLr(1e-4f).withIterations(10);
        for (CpuBackend.AdamPassChoice pass : new CpuBackend.AdamPassChoice[] {
                CpuBackend.AdamPassChoice.NATIVE, CpuBackend.AdamPassChoice.JAVA}) {
            List<Double> with = new ArrayList<>();
            List<Double> without = new ArrayList<>();
            WudiResult a = solve(pass, 300, 500, taus, cfg, with, true);
            WudiResult b = solve(pass, 300, 500, taus, cfg, without, false);
            assertArrayEquals(a.tauM(), b.tauM(), pass.name());
            assertEquals(a.lossBefore(), b.lossBefore(), pass.name());
            assertEquals(a.lossAfter(), b.lossAfter(), pass.name());
            assertEquals(10, without.size());
            assertTrue(with.stream().allMatch(Double::isFinite), pass.name());
        }
    }
}
