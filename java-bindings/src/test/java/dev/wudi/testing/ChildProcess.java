package dev.wudi.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a command (a C compiler, or a child JVM on this test classpath) for tests that must not load a
 * fake library or read a switch in their own JVM. stdout and stderr together; a command that cannot
 * start or does not finish in time gives rc -1 and says why in its output.
 */
public final class ChildProcess {

    /** The exit status (-1: did not start or did not finish) and everything the command printed. */
    public record Outcome(int rc, String output) {
    }

    private ChildProcess() {
    }

    /**
     * Runs cmd with these environment variables set and those named in unset removed.
     *
     * @param timeoutSeconds how long to wait after the command closed its output
     */
    public static Outcome run(List<String> cmd, Map<String, String> env, List<String> unset, long timeoutSeconds)
            throws InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        unset.forEach(pb.environment()::remove);
        pb.environment().putAll(env);
        Process p;
        String out;
        try {
            p = pb.start();
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return new Outcome(-1, e.toString());
        }
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return new Outcome(-1, out + "\n(did not finish in " + timeoutSeconds + " s)");
        }
        return new Outcome(p.exitValue(), out);
    }

    /** Runs cmd in the test's own environment. */
    public static Outcome run(List<String> cmd, long timeoutSeconds) throws InterruptedException {
        return run(cmd, Map.of(), List.of(), timeoutSeconds);
    }

    /** java [jvmOptions] -cp (this test classpath) main [args]: the command of a child JVM. */
    public static List<String> java(List<String> jvmOptions, Class<?> main, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(main.getName());
        cmd.addAll(List.of(args));
        return cmd;
    }
}
