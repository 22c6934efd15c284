package dev.wudi.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.bench.FixtureScorer;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import dev.wudi.spec.MergeSpec;
import dev.wudi.merge.MergeReport;
import dev.wudi.merge.Merger;
import dev.wudi.merge.TensorRecord;
import dev.wudi.method.MergeMethods;
import dev.wudi.solver.AdamConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * End to end on tests/fixtures/digits6: our merges against the PyTorch references, and the merged
 * encoders' accuracy computed in Java with each task's own head and test set.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Digits6Test {

    /**
     * Largest |ours - PyTorch| allowed on any weight after 300 Adam steps. Adam normalises each step to
     * about lr per element, so a wrong detail (eps placement, bias correction, beta, the loss weights, an
     * off-by-one step) moves elements by a sizeable fraction of lr * steps; float32 rounding of the
     * gradient moves them by far less. The tests below show both sides for lr 1e-3.
     */
    static final double TOL_LR_1E3 = 2e-5;
    static final double TOL_LR_1E5 = 2e-7;

    @TempDir
    Path tmp;

    FixtureScorer fx;
    Backend cpu;

    @BeforeAll
    void setUp() throws IOException {
        fx = FixtureScorer.open(Fixtures.digits6());
        cpu = Backends.select("cpu", 0);
    }

    @AfterAll
    void tearDown() {
        if (cpu != null) {
            cpu.close();
        }
    }

    private Path reference(String name) {
        return fx.dir().resolve("reference").resolve(name);
    }

    private static float[] floats(SafetensorsFile f, TensorInfo t) throws IOException {
        float[] a = new float[(int) t.numel()];
        f.readFloats(t, 0, a, 0, a.length);
        return a;
    }

    private MergeReport merge(MergeSpec o) throws IOException {
        return new Merger(o, cpu, null).run();
    }

    private MergeSpec wudi(Path out, float lr) {
        return MergeSpec.defaults(fx.base(), fx.models(), out).withAdam(AdamConfig.paper().withLr(lr));
    }

    /** Largest absolute difference over every tensor of two files with the same tensors. */
    static double maxAbsDiff(Path a, Path b) throws IOException {
        double max = 0;
        try (SafetensorsFile fa = SafetensorsFile.open(a); SafetensorsFile fb = SafetensorsFile.open(b)) {
            assertEquals(fa.tensors().size(), fb.tensors().size(), "tensor count");
            for (TensorInfo t : fa.tensors()) {
                float[] x = floats(fa, t);
                float[] y = floats(fb, fb.tensor(t.name()));
                for (int j = 0; j < x.length; j++) {
                    max = Math.max(max, Math.abs(x[j] - y[j]));
                }
            }
        }
        return max;
    }

    /** Largest absolute difference of one tensor of two files. */
    static double maxAbsDiffTensor(Path a, Path b, String name) throws IOException {
        double max = 0;
        try (SafetensorsFile fa = SafetensorsFile.open(a); SafetensorsFile fb = SafetensorsFile.open(b)) {
            float[] x = floats(fa, fa.tensor(name));
            float[] y = floats(fb, fb.tensor(name));
            for (int j = 0; j < x.length; j++) {
                max = Math.max(max, Math.abs(x[j] - y[j]));
            }
        }
        return max;
    }

    static Stream<Arguments> references() {
        return Stream.of(Arguments.of(1e-3f, TOL_LR_1E3, "wudi_adam_lr1e-3_300"),
                Arguments.of(1e-5f, TOL_LR_1E5, "wudi_adam_lr1e-5_300"));
    }

    @ParameterizedTest(name = "lr {0}: within {1} of {2}")
    @MethodSource("references")
    void wudiMatchesPyTorchReference(float lr, double tolerance, String reference) throws IOException {
        Path out = tmp.resolve(reference + ".safetensors");
        MergeReport r = merge(wudi(out, lr));
        double diff = maxAbsDiff(out, reference(reference + ".safetensors"));
        assertTrue(diff <= tolerance, "max |ours - pytorch| = " + diff);
        checkLosses(r, reference + ".json");
    }

    /** The tolerance is tight enough to catch a wrong Adam detail: small changes land far outside it. */
    @Test
    void toleranceCatchesWrongAdamDetails() throws IOException {
        Path ref = reference("wudi_adam_lr1e-3_300.safetensors");
        AdamConfig paper = AdamConfig.paper().withLr(1e-3f);
        AdamConfig[] wrong = {
            new AdamConfig(1e-3f, 0.9f, 0.99f, 1e-8f, 300),   // beta2 0.99
            new AdamConfig(1e-3f, 0.8f, 0.999f, 1e-8f, 300),  // beta1 0.8
            paper.withIterations(299),                        // one step short
            paper.withLr(1.01e-3f),                           // lr off by 1%
        };
        for (AdamConfig a : wrong) {
            Path out = tmp.resolve("wrong.safetensors");
            merge(MergeSpec.defaults(fx.base(), fx.models(), out).withAdam(a).withForce(true));
            double diff = maxAbsDiff(out, ref);
            assertTrue(diff > 5 * TOL_LR_1E3, a + " is only " + diff + " from the reference");
        }
    }

    private void checkLosses(MergeReport r, String json) throws IOException {
        JsonNode root = new ObjectMapper().readTree(reference(json).toFile());
        int checked = 0;
        for (JsonNode k : root.get("keys")) {
            TensorRecord rec = r.tensors().stream().filter(t -> t.name().equals(k.get("key").asText()))
                    .findFirst().orElseThrow();
            assertEquals("wudi", rec.method());
            assertEquals(k.get("init_loss").asDouble(), rec.lossBefore(), 1e-5 * k.get("init_loss").asDouble(),
                    rec.name() + " initial loss");
            assertEquals(k.get("final_loss").asDouble(), rec.lossAfter(), 1e-3 * k.get("final_loss").asDouble(),
                    rec.name() + " final loss");
            checked++;
        }
        assertEquals(3, checked);
        assertEquals(3, r.optimisedCount(), "only the three 2-D weights are optimised; biases keep the base");
    }

    @Test
    void baselinesMatchReferences() throws IOException {
        Path avg = tmp.resolve("avg.safetensors");
        merge(MergeSpec.defaults(fx.base(), fx.models(), avg).withMethod(MergeMethods.AVERAGE));
        assertTrue(maxAbsDiff(avg, reference("average.safetensors")) <= 1e-6);
        Path ta = tmp.resolve("ta.safetensors");
        merge(MergeSpec.defaults(fx.base(), fx.models(), ta).withMethod(MergeMethods.TASK_ARITHMETIC));
        assertTrue(maxAbsDiff(ta, reference("task_arithmetic_0.3.safetensors")) <= 1e-6);
    }

    /** The scorer (bench/FixtureScorer) reproduces every published accuracy, so the comparison below means something. */
    @Test
    void javaScorerReproducesPublishedAccuracy() throws IOException {
        JsonNode acc = new ObjectMapper().readTree(reference("accuracy.json").toFile());
        String[][] files = {{"pretrained", "../base.safetensors"}, {"average", "average.safetensors"},
                {"task_arithmetic_0.3", "task_arithmetic_0.3.safetensors"},
                {"wudi_adam_lr1e-3_300", "wudi_adam_lr1e-3_300.safetensors"}};
        for (String[] f : files) {
            double[] ours = fx.accuracy(reference(f[1]).normalize());
            for (int k = 0; k < fx.tasks().size(); k++) {
                assertEquals(acc.get(f[0]).get(fx.tasks().get(k)).asDouble(), ours[k], 1e-6, f[0] + " " + fx.tasks().get(k));
            }
        }
    }

    @Test
    void wudiAtLr1e3BeatsAverageAndTaskArithmetic() throws IOException {
        Path out = tmp.resolve("wudi-acc.safetensors");
        merge(wudi(out, 1e-3f));
        Path avg = tmp.resolve("avg-acc.safetensors");
        merge(MergeSpec.defaults(fx.base(), fx.models(), avg).withMethod(MergeMethods.AVERAGE));
        Path ta = tmp.resolve("ta-acc.safetensors");
        merge(MergeSpec.defaults(fx.base(), fx.models(), ta).withMethod(MergeMethods.TASK_ARITHMETIC));
        double wudi = FixtureScorer.mean(fx.accuracy(out));
        double average = FixtureScorer.mean(fx.accuracy(avg));
        double taskArithmetic = FixtureScorer.mean(fx.accuracy(ta));
        assertTrue(wudi > average + 3 && wudi > taskArithmetic + 3,
                "wudi " + wudi + " vs average " + average + ", task arithmetic " + taskArithmetic);
        assertEquals(89.48, wudi, 0.5, "the reference's 89.48% average accuracy");
    }
}
