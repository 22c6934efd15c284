package dev.wudi.selftest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wudi.backend.cuda.EmulatedDriver;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `wudi selftest` as a user runs it, in a child JVM: on the emulated driver, cuBLAS and cuSOLVER
 * (java-bindings/src/test/c, found as a real install would be: libcuda.so.1 through LD_LIBRARY_PATH, the others
 * through WUDI_CUBLAS / WUDI_CUSOLVER) every check passes and the exit is 0; with no driver at all the first line
 * fails saying why and the exit is 1. What the emulator cannot show is a real GPU: tests/gpu/device-check.sh runs
 * the same command there.
 */
class SelftestEmulatedTest {

    @TempDir
    Path dir;

    record Run(int exit, String out, String err) {
    }

    private static Run run(List<String> cmd, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("WUDI_CUBLAS");
        pb.environment().remove("WUDI_CUSOLVER");
        pb.environment().putAll(env);
        Path out = Files.createTempFile("selftest", ".out");
        Path err = Files.createTempFile("selftest", ".err");
        try {
            Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            assertTrue(p.waitFor(300, TimeUnit.SECONDS), "selftest did not finish in 300 s");
            return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private static List<String> wudi(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "-Dwudi.selftest.gemm=128", "-cp", System.getProperty("java.class.path"),
                "dev.wudi.cli.Main", "selftest"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    @Test
    void everyCheckPassesOnTheEmulatedDriverAndTheJsonSaysSo() throws Exception {
        EmulatedDriver driver = EmulatedDriver.build(dir);
        Map<String, String> env = Map.of("LD_LIBRARY_PATH", driver.cuda().getParent().toString(),
                "WUDI_CUBLAS", driver.cublas().toString(), "WUDI_CUSOLVER", driver.cusolver().toString());

        Run r = run(wudi(), env);
        assertEquals(0, r.exit(), r.out() + r.err());
        List<String> lines = r.out().strip().lines().toList();
        assertTrue(lines.get(lines.size() - 1).startsWith("selftest passed: 59 checks on Emulated GPU"), r.out());
        assertTrue(lines.subList(0, lines.size() - 1).stream().allMatch(l -> l.startsWith("PASS  ")), r.out());
        for (String expected : List.of("PASS  cuBLAS: 13.0.0 from ", "PASS  cuSOLVER: 11.7.3 from ",
                "PASS  kernel fused_adam (3 steps with the loss, 1 without) n=1048578: bit-identical",
                "PASS  kernel interference_loss + reduce n=3145728: bit-identical to the reference in the kernel's order",
                "PASS  kernel convert f16 -> f32, all 65536 patterns", "PASS  merge bf16 checkpoint",
                "PASS  solve exact f32", "PASS  sgemm rate: ")) {
            assertTrue(r.out().contains(expected), expected + " in\n" + r.out());
        }

        Run json = run(wudi("--json"), env);
        assertEquals(0, json.exit(), json.err());
        JsonNode doc = new ObjectMapper().readTree(json.out());
        assertEquals(1, doc.get("schema").asInt());
        assertTrue(doc.get("passed").asBoolean());
        assertEquals(59, doc.get("checks").size());
    }

    @Test
    void withoutADriverTheFirstLineFailsSayingWhyAndTheExitIsOne() throws Exception {
        // an empty folder first on the loader path and no libcuda.so.1 anywhere else here (CI has no GPU); where a
        // real driver is installed this test proves nothing and is skipped
        Assumptions.assumeFalse(Files.exists(Path.of("/dev/nvidiactl")), "a real NVIDIA driver is installed here");
        Run r = run(wudi(), Map.of());
        assertEquals(1, r.exit(), r.out() + r.err());
        assertTrue(r.out().startsWith("FAIL  driver: no libcuda.so.1 found"), r.out());
        assertFalse(r.out().contains("running on CPU"), "selftest proves the GPU; no CPU fallback is offered");
        assertTrue(r.out().strip().endsWith("selftest FAILED: 1 of 1 checks failed on cuda:0"), r.out());
        assertFalse(r.err().contains("\tat "), r.err());
    }
}
