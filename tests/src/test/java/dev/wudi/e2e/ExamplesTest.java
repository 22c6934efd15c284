package dev.wudi.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.wudi.hub.Wudi;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The examples a user copies from: examples/library-merge (a Maven project on the installed artifact, the same bytes
 * as `wudi merge`, and the per-layer API) and examples/python/wudi_merge.py (the JSON events through subprocess).
 * CI's command is `mvn install`, so the artifact the Java example depends on is the one just built; under a plain
 * `mvn verify` the installed artifact may be an old one, and that test is skipped saying so.
 */
class ExamplesTest {

    @TempDir
    Path tmp;

    private static Path checkout() {
        return Path.of(System.getProperty("wudi.checkout", "..")).toAbsolutePath().normalize();
    }

    record Run(int exit, String out, String err) {
    }

    private static Run run(List<String> cmd, Path dir, Map<String, String> env) throws Exception {
        Path out = Files.createTempFile("example", ".out");
        Path err = Files.createTempFile("example", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(out.toFile())
                    .redirectError(err.toFile());
            pb.environment().putAll(env);
            Process p = pb.start();
            assertTrue(p.waitFor(600, TimeUnit.SECONDS), String.join(" ", cmd) + " did not finish in 600 s");
            return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private static String onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir, program);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    /** The merge every example must reproduce: `wudi merge` on digits6 with two models. */
    private byte[] cliMerge(Path d, String name, String... more) throws IOException {
        Path out = tmp.resolve(name);
        List<String> args = new ArrayList<>(List.of("merge", "--base", d.resolve("base.safetensors").toString(),
                "--model", d.resolve("task_fliplr.safetensors").toString(), "--model",
                d.resolve("task_rot90.safetensors").toString(), "--out", out.toString(), "--quiet"));
        args.addAll(Arrays.asList(more));
        Wudi.Result r = Wudi.run(args.toArray(String[]::new));
        assertEquals(0, r.exit(), r.err());
        return Files.readAllBytes(out);
    }

    @Test
    void theLibraryExampleMergesAsTheCliAndRunsTheLayerApi() throws Exception {
        String mvn = onPath("mvn");
        assumeTrue(mvn != null, "mvn is not on the PATH");
        Path installed = Path.of(System.getProperty("wudi.localRepository",
                System.getProperty("user.home") + "/.m2/repository"), "dev", "wudi", "wudi-merge-runner",
                "0.1.0-SNAPSHOT", "wudi-merge-runner-0.1.0-SNAPSHOT.jar");
        Path built = checkout().resolve("merge-runner/target/wudi-merge-runner-0.1.0-SNAPSHOT.jar");
        assumeTrue(Files.isRegularFile(installed) && Files.isRegularFile(built)
                        && Arrays.equals(Files.readAllBytes(installed), Files.readAllBytes(built)),
                "the installed wudi-merge-runner is not this build's; `mvn install` (CI's command) runs this test");
        Path d = Fixtures.digits6();
        Path out = tmp.resolve("library.safetensors");
        Path pom = checkout().resolve("examples/library-merge/pom.xml");
        Run r = run(List.of(mvn, "-B", "-q", "-Dstyle.color=never", "-f", pom.toString(), "compile", "exec:java", "-Dexec.args="
                        + d.resolve("base.safetensors") + " " + out + " " + d.resolve("task_fliplr.safetensors") + " "
                        + d.resolve("task_rot90.safetensors")), tmp, Map.of());
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains("merged 6 tensors with wudi (spectral exponential (data-free default), scale auto)"),
                r.out());
        assertArrayEquals(cliMerge(d, "cli.safetensors"), Files.readAllBytes(out),
                "the library example writes the bytes `wudi merge` writes");

        Run layer = run(List.of(mvn, "-B", "-q", "-Dstyle.color=never", "-f", pom.toString(), "compile", "exec:java",
                "-Dexec.mainClass=example.LayerMergeExample"), tmp, Map.of());
        assertEquals(0, layer.exit(), layer.out() + layer.err());
        assertTrue(layer.out().contains("interference loss "), layer.out());
    }

    @Test
    void thePythonExampleFollowsTheEventsAndReportsErrors() throws Exception {
        String python = onPath("python3");
        assumeTrue(python != null, "python3 is not on the PATH");
        Path d = Fixtures.digits6();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // the CLI from the test class path, quoted for the script's shlex.split
        String wudi = "'" + java + "' -cp '" + System.getProperty("java.class.path") + "' dev.wudi.cli.Main";
        Path script = checkout().resolve("examples/python/wudi_merge.py");
        Path out = tmp.resolve("python.safetensors");
        Run r = run(List.of(python, script.toString(), d.resolve("base.safetensors").toString(), out.toString(),
                d.resolve("task_fliplr.safetensors").toString(), d.resolve("task_rot90.safetensors").toString(), "--",
                "--iters", "5", "--device", "cpu"), tmp, Map.of("WUDI", wudi));
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.out().startsWith("merged 6 tensors with wudi (adam lr 1.0E-5, 5 steps)"), r.out());
        assertTrue(r.err().contains("merging 6 tensors (3 optimised by WUDI)")
                && r.err().contains("enc.fc1.weight: loss "), r.err());
        assertArrayEquals(cliMerge(d, "cli5.safetensors", "--iters", "5", "--device", "cpu"), Files.readAllBytes(out));

        Run bad = run(List.of(python, script.toString(), tmp.resolve("missing").toString(), tmp.resolve("o").toString(),
                d.resolve("task_fliplr.safetensors").toString()), tmp, Map.of("WUDI", wudi));
        assertEquals(2, bad.exit(), bad.err());
        assertTrue(bad.err().contains("wudi failed (exit 2): " + tmp.resolve("missing") + ": no such file or folder"),
                bad.err());
    }
}
