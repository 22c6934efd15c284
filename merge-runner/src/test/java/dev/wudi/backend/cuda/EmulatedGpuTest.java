package dev.wudi.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CUDA backend's Java side end to end without a GPU: java-bindings/src/test/c holds an emulated
 * libcuda.so.1 (host memory, synchronous streams, C transcriptions of the kernels) and an emulated
 * libcublas.so.13 and libcusolver.so.12 (Jacobi in double); this test builds them with cc and runs {@link EmulatedGpuMain} in a child JVM, which
 * runs CudaWudiProblemGpuTest (CudaBackend against the Java oracle) and KernelBench's plumbing on them. What it cannot show: real GPU behaviour
 * (asynchrony, races, the .cu kernels themselves, real cuBLAS); CudaWudiProblemGpuTest covers those on a GPU.
 */
class EmulatedGpuTest {

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
    void cudaBackendOnTheEmulatedDriver() throws Exception {
        EmulatedDriver driver = EmulatedDriver.build(dir);
        StringBuilder out = new StringBuilder();
        int code = run(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                "-Dwudi.cuda.stageChunkBytes=4096",   // every transfer crosses several pinned chunks
                "-Dwudi.cuda.poisonPooled=true",      // a reused buffer read before it is written shows as NaN
                "-cp", System.getProperty("java.class.path"), EmulatedGpuMain.class.getName(),
                driver.cuda().toString(), driver.cublas().toString(), driver.cusolver().toString()), out);
        String text = out.toString();
        text.lines().filter(l -> l.startsWith("COUNTS") || l.startsWith("  tensor ")).forEach(System.out::println);
        assertEquals(0, code, text);
        Matcher m = Pattern.compile("started=(\\d+) succeeded=(\\d+) skipped=(\\d+) failed=(\\d+)").matcher(text);
        assertTrue(m.find(), text);
        assertEquals("0", m.group(4), text);
        assertEquals("0", m.group(3), "no GPU test may skip on the emulated driver:\n" + text);
        assertTrue(Integer.parseInt(m.group(2)) >= 36, text);   // every test of CudaWudiProblemGpuTest
        assertTrue(text.contains("BENCH OK"), text);
    }
}
