package dev.wudi.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wudi.testing.ChildProcess;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The probe's second stage without a GPU: with a fake libcuda.so.1 (built here with cc) JNA finds a
 * driver, JCuda's natives load against it, and cuInit's failure becomes the one-line reason. Runs in a
 * child JVM so the fake driver never leaks into other tests. Skipped where no C compiler exists.
 */
class FakeDriverProbeTest {

    @TempDir
    Path dir;

    private Path fake;

    @BeforeEach
    void buildFakeDriver() throws IOException, InterruptedException {
        Path src = dir.resolve("fake_libcuda.c");
        try (InputStream in = getClass().getResourceAsStream("fake_libcuda.c")) {
            Files.copy(in, src);
        }
        fake = dir.resolve("libcuda.so.1");
        int rc = ChildProcess.run(List.of("cc", "-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o", fake.toString(),
                src.toString()), 120).rc();
        Assumptions.assumeTrue(rc == 0, "no working C compiler (cc) to build the fake driver");
    }

    private String probeInChildJvm(String cuInit) throws InterruptedException {
        ChildProcess.Outcome o = ChildProcess.run(ChildProcess.java(List.of(), FakeDriverProbeMain.class, fake.toString()),
                Map.of("WUDI_FAKE_CUINIT", cuInit), List.of(), 120);
        assertEquals(0, o.rc(), o.output());
        return o.output().strip();
    }

    @Test
    void cuInitFailureIsTheReason() throws Exception {
        assertEquals("available=false driverFound=true reason=cuInit failed: CUDA_ERROR_NO_DEVICE while initialising the "
                + "CUDA driver; running on CPU. Check the driver with nvidia-smi or pass --device cpu", probeInChildJvm("100"));
    }

    @Test
    void driverWithoutDevicesIsTheReason() throws Exception {
        assertEquals("available=false driverFound=true reason=the NVIDIA driver reports no CUDA device; running on CPU. "
                + "Check nvidia-smi and CUDA_VISIBLE_DEVICES, or pass --device cpu", probeInChildJvm("0"));
    }
}
