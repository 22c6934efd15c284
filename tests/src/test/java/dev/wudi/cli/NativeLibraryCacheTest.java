package dev.wudi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.cpu.CpuAdamKernel;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
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
        Cli.Result r = Cli.run(Map.of("XDG_CACHE_HOME", cache.toString()), List.of(CpuAdamKernel.SWITCH_ENV), List.of(),
                "bench", "step", "--steps", "2", "--literal-steps", "1", "--tasks", "1", "--shapes", "8x8");
        assertEquals(0, r.exit(), r.toString());
        return r.out();
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
