package dev.wudi.selftest;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.backend.cuda.CudaBackends;
import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaStream;
import dev.wudi.cuda.KernelModule;
import dev.wudi.cuda.ProbeResult;
import dev.wudi.cuda.WudiKernels;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Every kernel of cuda-kernels/ against its host reference, bit for bit: the checks of `wudi selftest`
 * ({@link KernelChecks}, the one kernel parity suite), every line of which must pass; a failure lists the lines that
 * failed. Needs a GPU (or the emulated driver): skipped, with the probe's reason, everywhere else (one test, so that
 * the skip is counted: an assumption in a test factory would leave no test at all).
 */
class KernelParityGpuTest {

    @Test
    void everySelftestKernelCheckPasses() {
        ProbeResult r = CudaBackends.probe();
        Assumptions.assumeTrue(r.available(), r.reason());
        List<Check> checks = new ArrayList<>();
        try (CudaDevice dev = CudaDevice.open(0);
             KernelModule module = KernelModule.load(dev);
             CudaStream stream = dev.newStream()) {
            new KernelChecks(dev, stream, new WudiKernels(module), checks::add).runAll();
        }
        assertFalse(checks.isEmpty(), "the kernel checks ran");
        List<String> failed = checks.stream().filter(c -> !c.passed()).map(Check::line).toList();
        assertTrue(failed.isEmpty(), failed.size() + " of " + checks.size() + " kernel checks failed:\n"
                + String.join("\n", failed));
    }
}
