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
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every kernel of cuda-kernels/ against its host reference, bit for bit: the checks of `wudi selftest`
 * ({@link KernelChecks}, the one kernel parity suite), one test per line, each of which must pass. Needs a GPU (or the
 * emulated driver): skipped, with the probe's reason, everywhere else.
 */
class KernelParityGpuTest {

    @TestFactory
    Stream<DynamicTest> everySelftestKernelCheckPasses() {
        ProbeResult r = CudaBackends.probe();
        Assumptions.assumeTrue(r.available(), r.reason());
        List<Check> checks = new ArrayList<>();
        try (CudaDevice dev = CudaDevice.open(0);
             KernelModule module = KernelModule.load(dev);
             CudaStream stream = dev.newStream()) {
            new KernelChecks(dev, stream, new WudiKernels(module), checks::add).runAll();
        }
        assertFalse(checks.isEmpty(), "the kernel checks ran");
        return checks.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> assertTrue(c.passed(), c.line())));
    }
}
