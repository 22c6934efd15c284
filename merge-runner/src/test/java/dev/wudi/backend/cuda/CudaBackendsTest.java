package dev.wudi.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.DeviceMemoryException;
import dev.wudi.cuda.ProbeResult;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** What the CLI sees of the GPU engine on a machine without one (CI), and the pure helpers. */
class CudaBackendsTest {

    @Test
    void openWithoutAGpuThrowsTheProbesOneLineReason() {
        ProbeResult r = CudaBackends.probe();
        Assumptions.assumeFalse(r.available(), "a GPU is available here; the fallback path is tested without one");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> CudaBackends.open(0, false));
        assertEquals(r.reason(), e.getMessage());
        assertTrue(e.getMessage().contains("running on CPU"), e.getMessage());
        assertTrue(e.getMessage().contains("--device cpu"), e.getMessage());
    }

    @Test
    void workingSetCountsTheBuffersOfEachPhase() {
        // setup: sum, D, two upload slots + C, G ; solve: sum, D, tau_m, m, v, P + C
        assertEquals(4L * (4 * 6 + 2 * 9), WorkingSet.setupBytes(2, 3));
        assertEquals(4L * (6 * 6 + 9), WorkingSet.solveBytes(2, 3));
        long llamaDown = WorkingSet.peakBytes(4096, 11008);
        assertEquals(Math.max(4L * (4 * 4096L * 11008 + 2 * 11008L * 11008), 4L * (6 * 4096L * 11008 + 11008L * 11008))
                + WorkingSet.HEADROOM_BYTES, llamaDown);
    }

    @Test
    void memoryErrorNamesTensorShapeAndBytes() {
        DeviceMemoryException e = new DeviceMemoryException("model.layers.3.mlp.down_proj.weight", 4096, 11008,
                3L << 30, 1L << 30, "cuda:0");
        assertTrue(e.getMessage().startsWith("tensor model.layers.3.mlp.down_proj.weight [4096, 11008] needs 3.00 GiB"),
                e.getMessage());
        assertTrue(e.getMessage().contains("only 1.00 GiB (1073741824 bytes) is free"), e.getMessage());
        assertEquals(3L << 30, e.bytesNeeded());
    }

    @Test
    void precisionFlag() {
        assertEquals(Precision.FP32, Precision.parse("fp32"));
        assertEquals(Precision.TF32, Precision.parse("TF32"));
        assertEquals("tf32", Precision.TF32.flag());
        assertThrows(IllegalArgumentException.class, () -> Precision.parse("bf16"));
    }
}
