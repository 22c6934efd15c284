package dev.wudi.backend.cuda;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * The emulated libcuda.so.1, libcublas.so.13 and libcusolver.so.12 of java-bindings/src/test/c, built with cc into a
 * folder, for the tests that run the CUDA engine without a GPU (EmulatedGpuTest, SelftestEmulatedTest). The calling
 * test is skipped, saying why, where the sources or a C compiler are missing.
 */
public record EmulatedDriver(Path cuda, Path cublas, Path cusolver) {

    /** Builds the three libraries into dir (their sonames let the loader take them for the real ones). */
    public static EmulatedDriver build(Path dir) throws InterruptedException {
        Path c = Path.of("..", "java-bindings", "src", "test", "c").toAbsolutePath().normalize();
        Assumptions.assumeTrue(Files.isDirectory(c), "emulator sources not found at " + c);
        Path references = Path.of("..", "cuda-kernels", "check").toAbsolutePath().normalize();
        EmulatedDriver d = new EmulatedDriver(dir.resolve("libcuda.so.1"), dir.resolve("libcublas.so.13"),
                dir.resolve("libcusolver.so.12"));
        StringBuilder log = new StringBuilder();
        int rc = cc(List.of("cc", "-O2", "-ffp-contract=off", "-I", references.toString(), "-shared", "-fPIC",
                "-Wl,-soname,libcuda.so.1", "-o", d.cuda().toString(), c.resolve("emulated_libcuda.c").toString(), "-lm"),
                log);
        rc |= cc(List.of("cc", "-O2", "-ffp-contract=off", "-shared", "-fPIC", "-Wl,-soname,libcublas.so.13", "-o",
                d.cublas().toString(), c.resolve("emulated_cublas.c").toString(), "-ldl"), log);
        rc |= cc(List.of("cc", "-O2", "-shared", "-fPIC", "-Wl,-soname,libcusolver.so.12", "-o",
                d.cusolver().toString(), c.resolve("emulated_cusolver.c").toString(), "-lm"), log);
        Assumptions.assumeTrue(rc == 0, "no working C compiler (cc) to build the emulated driver: " + log);
        return d;
    }

    private static int cc(List<String> cmd, StringBuilder log) throws InterruptedException {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            log.append(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            return p.waitFor(300, TimeUnit.SECONDS) ? p.exitValue() : -1;
        } catch (IOException e) {
            log.append(e);
            return -1;
        }
    }
}
