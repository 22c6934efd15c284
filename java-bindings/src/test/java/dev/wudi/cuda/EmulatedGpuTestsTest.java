package dev.wudi.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPU test classes (KernelParityGpuTest, CublasGpuTest) run in a child JVM on the emulated driver and
 * cuBLAS of src/test/c: this checks the launchers' argument packing, the buffer plumbing and the
 * row-major cuBLAS mapping without a GPU. The emulated kernels are C transcriptions of cuda-kernels/, so
 * it does NOT check the .cu code itself: on a GPU the same classes run for real.
 */
class EmulatedGpuTestsTest {

    @TempDir
    Path dir;

    private static int run(List<String> cmd, StringBuilder out) throws InterruptedException {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            out.append(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            return p.waitFor(300, TimeUnit.SECONDS) ? p.exitValue() : -1;
        } catch (IOException e) {
            out.append(e);
            return -1;
        }
    }

    @Test
    void gpuTestClassesPassOnTheEmulatedDriver() throws Exception {
        Assumptions.assumeTrue(FatbinResource.present(), "no fatbin in this build: " + FatbinResource.buildStatus());
        Path c = Path.of("src", "test", "c").toAbsolutePath();
        Path cuda = dir.resolve("libcuda.so.1");
        Path cublas = dir.resolve("libcublas.so.13");
        StringBuilder log = new StringBuilder();
        Path references = Path.of("..", "cuda-kernels", "check").toAbsolutePath().normalize();
        int rc = run(List.of("cc", "-O2", "-ffp-contract=off", "-I", references.toString(), "-shared", "-fPIC",
                "-Wl,-soname,libcuda.so.1", "-o",
                cuda.toString(), c.resolve("emulated_libcuda.c").toString(), "-lm"), log);
        rc |= run(List.of("cc", "-O2", "-ffp-contract=off", "-shared", "-fPIC", "-Wl,-soname,libcublas.so.13", "-o",
                cublas.toString(), c.resolve("emulated_cublas.c").toString()), log);
        Assumptions.assumeTrue(rc == 0, "no working C compiler (cc) to build the emulated driver: " + log);

        StringBuilder out = new StringBuilder();
        int code = run(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                "-cp", System.getProperty("java.class.path"), EmulatedGpuTestsMain.class.getName(),
                cuda.toString(), cublas.toString()), out);
        String text = out.toString();
        assertEquals(0, code, text);
        Matcher m = Pattern.compile("started=(\\d+) succeeded=(\\d+) skipped=(\\d+) failed=(\\d+)").matcher(text);
        assertTrue(m.find(), text);
        assertEquals("0", m.group(4), text);
        assertEquals("0", m.group(3), "no GPU test may skip on the emulated driver:\n" + text);
        assertTrue(Integer.parseInt(m.group(2)) >= 30, text);
    }
}
