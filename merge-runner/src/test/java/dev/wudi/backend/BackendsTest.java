package dev.wudi.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.wudi.backend.cuda.CudaBackends;
import dev.wudi.cpu.CpuAdamKernel;
import dev.wudi.cuda.ProbeResult;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** --device selection: names, and the fallback path as CI (no GPU) sees it. */
class BackendsTest {

    @Test
    void namesAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> Backends.select("tpu", 1));
        assertThrows(IllegalArgumentException.class, () -> Backends.select("cuda:x", 1));
        try (Backend b = Backends.select("CPU", 1)) {
            assertEquals("cpu", b.name());
        }
    }

    @Test
    void autoFallsBackToTheCpuWithOneLineNamingCauseAndFix() {
        ProbeResult probe = CudaBackends.probe();
        assumeFalse(probe.available(), "a usable GPU is present: the fallback path is not taken here");
        List<String> notices = new ArrayList<>();
        try (Backend b = Backends.select("auto", 1, false, notices::add)) {
            assertEquals("cpu", b.name());
        }
        // one line for the GPU; a second only where this jar lacks the native CPU Adam pass
        assertEquals(CpuAdamKernel.available() || CpuAdamKernel.offByChoice() ? 1 : 2, notices.size(), notices.toString());
        assertTrue(notices.get(0).contains("running on CPU") && notices.get(0).contains("--device cpu"), notices.get(0));
    }

    /** A CPU backend without its native Adam pass says so in one line, unless the user chose the Java pass. */
    @Test
    void aMissingNativeAdamPassIsOneLine() {
        List<String> notices = new ArrayList<>();
        try (Backend b = Backends.select("cpu", 1, false, notices::add)) {
            assertEquals("cpu", b.name());
        }
        if (CpuAdamKernel.available() || CpuAdamKernel.offByChoice()) {
            assertEquals(List.of(), notices);
        } else {
            assertEquals(1, notices.size(), notices.toString());
            assertTrue(notices.get(0).startsWith("wudi: the CPU's native Adam pass is " + CpuAdamKernel.status()
                    + "; the Java pass runs"), notices.get(0));
        }
    }

    @Test
    void explicitCudaWithoutAGpuIsAClearError() {
        assumeFalse(CudaBackends.probe().available(), "a usable GPU is present");
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class,
                () -> Backends.select("cuda:0", 1, false, n -> { }));
        assertTrue(e.getMessage().startsWith("device cuda:0 cannot be used: "), e.getMessage());
        assertFalse(e.getMessage().contains("running on CPU"), e.getMessage());
    }
}
