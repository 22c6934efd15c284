package dev.wudi.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.wudi.cuda.FatbinResource;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The device check rehearsed on every build (tests/gpu/rehearse.sh, quick mode, on the emulated driver): the one
 * command that a GPU machine will run packs, runs every step within its limit and the whole within its budget, and
 * leaves in $OUT what such a machine brings back (at most 8 files, each under 16 MiB: the summary and one archive of
 * every log), also when stopped half-way. Runs after the build's package phase (this module comes last), on what it
 * built: the shaded jar and the test classes of java-bindings and merge-runner. Where the team's JRE maker
 * (../shared/tools/make-jre.sh) and jlink are at hand, the check runs on the small packed JRE as on the GPU machine
 * (REHEARSE_JRE=1), else on this JVM. Needs a C compiler (the emulated driver) and a jar with the kernels (nvcc where
 * it was built); skipped, saying which is missing, without them.
 */
class DeviceCheckRehearsalTest {

    private static Path checkout() {
        return Path.of(System.getProperty("wudi.checkout", "..")).toAbsolutePath().normalize();
    }

    private static boolean works(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void theDeviceCheckKeepsItsContractOnTheEmulatedDriver() throws Exception {
        assumeTrue(works("cc", "--version"), "no C compiler (cc) to build the emulated driver");
        assumeTrue(FatbinResource.present(), "this build has no kernels to rehearse with: " + FatbinResource.buildStatus());
        Path root = checkout();
        // JUnit and commons-math3 for the packed GPU tests: the jars of this test's own class path
        String junit = Stream.of(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(j -> j.matches(".*/(junit-platform-|junit-jupiter-|opentest4j|apiguardian-api|commons-math3).*\\.jar"))
                .collect(Collectors.joining(File.pathSeparator));
        Path log = Files.createTempFile("rehearse", ".log");
        try {
            ProcessBuilder pb = new ProcessBuilder(List.of("bash", "tests/gpu/rehearse.sh")).directory(root.toFile())
                    .redirectErrorStream(true).redirectOutput(log.toFile());
            Path javaHome = Path.of(System.getProperty("java.home"));
            pb.environment().put("WUDI_REHEARSE_BUILT", "1");
            pb.environment().put("WUDI_PACK_CLASSPATH", junit);
            pb.environment().put("JAVA_HOME", javaHome.toString());
            pb.environment().put("PATH", javaHome.resolve("bin") + File.pathSeparator + System.getenv("PATH"));
            boolean jre = Files.isRegularFile(root.resolve("../shared/tools/make-jre.sh").normalize())
                    && Files.isExecutable(javaHome.resolve("bin").resolve("jlink"));
            if (jre) {
                pb.environment().put("REHEARSE_JRE", "1");
            }
            System.out.println("rehearsal on " + (jre ? "the packed JRE, as the GPU machine" : "this JVM (no jlink or JRE maker)"));
            Process p = pb.start();
            assertTrue(p.waitFor(600, TimeUnit.SECONDS), "the rehearsal did not finish in 600 s");
            String text = Files.readString(log, StandardCharsets.UTF_8);
            System.out.println(text.lines().filter(l -> l.startsWith("rehearsal:") || l.startsWith("device-check:"))
                    .collect(Collectors.joining("\n")));
            assertEquals(0, p.exitValue(), text);
            Matcher m = Pattern.compile("rehearsal: passed in \\d+ s: (\\d+) steps in (\\d+) s of a (\\d+) s budget,"
                    + " (\\d+) files in \\$OUT").matcher(text);
            assertTrue(m.find(), text);
            assertTrue(Integer.parseInt(m.group(1)) >= 9, "steps run: " + m.group(1));
            assertTrue(Integer.parseInt(m.group(2)) <= Integer.parseInt(m.group(3)), "within the budget: " + m.group());
            assertTrue(Integer.parseInt(m.group(4)) <= 8, "what comes back from a device machine: " + m.group());
            assertTrue(text.contains("GPU TESTS started="), text);
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
