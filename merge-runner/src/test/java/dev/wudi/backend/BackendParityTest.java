package dev.wudi.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.cpu.CpuBackend;
import dev.wudi.backend.cuda.CudaBackends;
import dev.wudi.cuda.ProbeResult;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.WudiResult;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every backend against the CPU reference backend (STYLE: one parameterised test over all backends), on
 * random shapes with rows < cols, rows > cols and odd sizes. A backend that cannot run here is skipped with
 * its reason. Kept under src/test/java-pending until dev.wudi.backend.cpu.CpuBackend is merged; then move
 * it to src/test/java.
 */
public class BackendParityTest {

    record Candidate(String name, Supplier<ProbeResult> probe, Supplier<Backend> open) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Arguments> cases() {
        List<Candidate> backends = List.of(
                new Candidate("cpu", () -> null, () -> new CpuBackend(2)),
                new Candidate("cuda:0 fp32", CudaBackends::probe, () -> CudaBackends.open(0, false)),
                new Candidate("cuda:0 tf32", CudaBackends::probe, () -> CudaBackends.open(0, true)));
        int[][] shapes = {{1, 1}, {7, 3}, {3, 7}, {64, 48}, {48, 64}, {130, 33}, {31, 257}};
        List<Arguments> out = new ArrayList<>();
        for (Candidate c : backends) {
            for (int[] s : shapes) {
                out.add(Arguments.of(c, s[0], s[1], 3));
            }
            out.add(Arguments.of(c, 40, 24, 8));
        }
        return out.stream();
    }

    /** count random task vectors [rows, cols], the i-th of scale 0.02 (1 + i), from seed. */
    public static List<float[]> tasks(int count, int rows, int cols, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            float[] t = new float[rows * cols];
            for (int e = 0; e < t.length; e++) {
                t[e] = (float) (0.02 * (1 + i) * rnd.nextGaussian());
            }
            out.add(t);
        }
        return out;
    }

    static WudiResult solve(Backend b, int rows, int cols, List<float[]> taus, AdamConfig cfg) {
        try (WudiProblem p = b.newProblem("parity.weight", rows, cols)) {
            taus.forEach(p::addTaskVector);
            return p.solveAdam(cfg, null);
        }
    }

    @ParameterizedTest(name = "{0} [{1} x {2}] x {3} tasks")
    @MethodSource("cases")
    void agreesWithTheCpuBackend(Candidate candidate, int rows, int cols, int count) {
        ProbeResult r = candidate.probe().get();
        if (r != null) {
            Assumptions.assumeTrue(r.available(), r.reason());
        }
        boolean tf32 = candidate.name().contains("tf32");
        List<float[]> taus = tasks(count, rows, cols, 31L * rows + cols);
        AdamConfig cfg = AdamConfig.paper().withLr(1e-3f).withIterations(60);
        WudiResult want;
        try (Backend cpu = new CpuBackend(2)) {
            want = solve(cpu, rows, cols, taus, cfg);
        }
        WudiResult got;
        try (Backend b = candidate.open().get()) {
            got = solve(b, rows, cols, taus, cfg);
        }
        float[] sum = new float[rows * cols];
        for (float[] t : taus) {
            for (int e = 0; e < sum.length; e++) {
                sum[e] += t[e];
            }
        }
        double lossTol = tf32 ? 1e-2 : 1e-4;
        assertEquals(want.lossBefore(), got.lossBefore(), lossTol * Math.abs(want.lossBefore()) + 1e-12, "loss before");
        assertEquals(want.lossAfter(), got.lossAfter(), (tf32 ? 5e-2 : 1e-3) * Math.abs(want.lossAfter()) + 1e-12, "loss after");
        double num = 0, den = 0;   // relative error of what Adam changed (tau_m - sum), the sensitive part
        for (int e = 0; e < sum.length; e++) {
            double dw = (double) want.tauM()[e] - sum[e];
            num += Math.pow((double) got.tauM()[e] - want.tauM()[e], 2);
            den += dw * dw;
        }
        double err = Math.sqrt(num / Math.max(den, 1e-300));
        assertTrue(err < (tf32 ? 0.1 : 1e-2), candidate + ": displacement error " + err);
        assertEquals(want.steps(), got.steps());
    }
}
