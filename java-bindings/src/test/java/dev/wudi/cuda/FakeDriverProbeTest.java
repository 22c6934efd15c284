package dev.wudi.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
        int rc = run(List.of("cc", "-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o", fake.toString(), src.toString()),
                null).rc;
        Assumptions.assumeTrue(rc == 0, "no working C compiler (cc) to build the fake driver");
    }

    private record Outcome(int rc, String output) {
    }

    private static Outcome run(List<String> cmd, String cuInit) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (cuInit != null) {
            pb.environment().put("WUDI_FAKE_CUINIT", cuInit);
        }
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return new Outcome(-1, e.toString());
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Outcome(p.waitFor(120, TimeUnit.SECONDS) ? p.exitValue() : -1, out);
    }

    private String probeInChildJvm(String cuInit) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(FakeDriverProbeMain.class.getName());
        cmd.add(fake.toString());
        Outcome o = run(cmd, cuInit);
        assertEquals(0, o.rc, o.output);
        return o.output.strip();
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
