package dev.wudi.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.Backend;
import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;
import dev.wudi.cuda.CudaProbe;
import dev.wudi.cuda.ProbeResult;
import dev.wudi.solver.AdamConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The benchmark harnesses' plumbing, on a stand-in backend: shapes, output format, the no-GPU error. */
class BenchWithoutGpuTest {

    /** Returns the sum of the task vectors; enough to exercise MergeBench's loop and output. */
    static final class SumBackend implements Backend {
        @Override
        public String name() {
            return "sum";
        }

        @Override
        public String describe() {
            return "sum: test stand-in";
        }

        @Override
        public WudiProblem newProblem(String tensorName, int rows, int cols) {
            return new WudiProblem() {
                final float[] sum = new float[rows * cols];
                int count;

                @Override
                public void addTaskVector(float[] tau) {
                    for (int i = 0; i < sum.length; i++) {
                        sum[i] += tau[i];
                    }
                    count++;
                }

                @Override
                public int taskCount() {
                    return count;
                }

                @Override
                public int zeroTaskCount() {
                    return 0;
                }

                @Override
                public WudiResult solveAdam(AdamConfig config, StepListener listener) {
                    return new WudiResult(sum.clone(), 1.0, 0.5, config.iterations());
                }

                @Override
                public void close() {
                }
            };
        }

        @Override
        public void close() {
        }
    }

    @Test
    void workloadsHaveTheModelsShapes() {
        assertEquals(48, MergeBench.Workload.CLIP_VIT_B32.shapes().size());
        assertEquals(7, MergeBench.Workload.LLAMA_7B_LAYER.shapes().size());
        assertEquals(4096, MergeBench.Workload.LLAMA_7B_LAYER.shapes().get(6)[0]);
        assertEquals(11008, MergeBench.Workload.LLAMA_7B_LAYER.shapes().get(6)[1]);
        assertEquals(MergeBench.Workload.CLIP_VIT_B32, MergeBench.Workload.parse("clip-vit-b32"));
    }

    @Test
    void mergeBenchPrintsParseableLines() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            MergeBench.Report r = MergeBench.run(out, new SumBackend(), MergeBench.Workload.CLIP_VIT_B32, 2,
                    AdamConfig.paper().withIterations(3), 1, 2);
            assertEquals(2, r.tensors());
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("MERGEBENCH backend=sum workload=clip-vit-b32 tasks=2 steps=3 tensor=0 shape=2304x768 seconds="), text);
        assertTrue(text.contains("MERGEBENCH_TOTAL backend=sum workload=clip-vit-b32 tasks=2 steps=3 tensors=2 seconds="), text);
    }

    @Test
    void kernelBenchWithoutGpuSaysWhy() {
        ProbeResult p = CudaProbe.probe();
        Assumptions.assumeFalse(p.available(), "a GPU is here");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> KernelBench.run(System.out, 0, 64, 64, 3));
        assertEquals(p.reason(), e.getMessage());
    }
}
