package dev.wudi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.cpu.CpuAdamKernel;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CPU's native Adam pass as a user runs it, from the jar: the library is copied once into the
 * user's cache folder and every later run loads that copy (no temporary file per run).
 */
class NativeLibraryCacheTest {

    @TempDir
    Path cache;

    private String benchInChildJvm() throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.wudi.cli.Main", "bench", "step", "--steps", "2",
                "--literal-steps", "1", "--tasks", "1", "--shapes", "8x8"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("XDG_CACHE_HOME", cache.toString());
        pb.environment().remove(CpuAdamKernel.SWITCH_ENV);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "bench did not finish");
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    private List<Path> cached() throws Exception {
        try (Stream<Path> s = Files.list(cache.resolve("wudi"))) {
            return s.toList();
        }
    }

    @Test
    void theJarsLibraryIsCopiedOnceAndReused() throws Exception {
        Assumptions.assumeTrue(CpuAdamKernel.buildStatus().startsWith("built"),
                "this build did not compile the CPU kernel: " + CpuAdamKernel.buildStatus());
        URL url = CpuAdamKernel.class.getResource(CpuAdamKernel.resourcePath());
        Assumptions.assumeTrue(url != null && url.getProtocol().equals("jar"),
                "java-bindings is on this classpath as a classes folder, not a jar: " + url);
        String first = benchInChildJvm();
        assertTrue(first.contains("Adam pass: native (libwudi_cpu"), first);
        List<Path> files = cached();
        assertEquals(1, files.size(), files.toString());
        assertTrue(files.get(0).getFileName().toString().matches("libwudi_cpu-[0-9a-f]{16}\\.so"), files.toString());
        String second = benchInChildJvm();
        assertTrue(second.contains("Adam pass: native (libwudi_cpu"), second);
        assertEquals(files, cached());
    }
}
