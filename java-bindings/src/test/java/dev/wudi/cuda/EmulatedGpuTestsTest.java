package dev.wudi.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.testing.ChildProcess;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CublasGpuTest run in a child JVM on the emulated driver and cuBLAS of src/test/c: this checks the buffer plumbing
 * and the row-major cuBLAS mapping (through the direct-mapped hot path too) without a GPU. The emulated cuBLAS is a
 * plain C loop, so it does NOT check cuBLAS itself: on a GPU the same class runs for real.
 */
class EmulatedGpuTestsTest {

    @TempDir
    Path dir;

    @Test
    void gpuTestClassesPassOnTheEmulatedDriver() throws Exception {
        Assumptions.assumeTrue(FatbinResource.present(), "no fatbin in this build: " + FatbinResource.buildStatus());
        Path c = Path.of("src", "test", "c").toAbsolutePath();
        Path cuda = dir.resolve("libcuda.so.1");
        Path cublas = dir.resolve("libcublas.so.13");
        Path references = Path.of("..", "cuda-kernels", "check").toAbsolutePath().normalize();
        ChildProcess.Outcome driver = ChildProcess.run(List.of("cc", "-O2", "-ffp-contract=off", "-I",
                references.toString(), "-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o",
                cuda.toString(), c.resolve("emulated_libcuda.c").toString(), "-lm"), 300);
        ChildProcess.Outcome blas = ChildProcess.run(List.of("cc", "-O2", "-ffp-contract=off", "-shared", "-fPIC",
                "-Wl,-soname,libcublas.so.13", "-o", cublas.toString(), c.resolve("emulated_cublas.c").toString(), "-ldl"), 300);
        Assumptions.assumeTrue((driver.rc() | blas.rc()) == 0,
                "no working C compiler (cc) to build the emulated driver: " + driver.output() + blas.output());

        ChildProcess.Outcome run = ChildProcess.run(ChildProcess.java(List.of("-Xmx1g"), EmulatedGpuTestsMain.class,
                cuda.toString(), cublas.toString()), 300);
        String text = run.output();
        assertEquals(0, run.rc(), text);
        Matcher m = Pattern.compile("started=(\\d+) succeeded=(\\d+) skipped=(\\d+) failed=(\\d+)").matcher(text);
        assertTrue(m.find(), text);
        assertEquals("0", m.group(4), text);
        assertEquals("0", m.group(3), "no GPU test may skip on the emulated driver:\n" + text);
        assertTrue(Integer.parseInt(m.group(2)) >= 5, text);   // every case of CublasGpuTest
    }
}
