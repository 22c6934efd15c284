package dev.wudi.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs `wudi` in a child JVM (real exit codes, real stdout/stderr) on the test classpath. */
final class Cli {

    record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "\n--- stderr\n" + err;
        }
    }

    private Cli() {
    }

    static Result run(List<String> jvmArgs, String... args) throws IOException, InterruptedException {
        return run(Map.of(), List.of(), jvmArgs, args);
    }

    /** As {@link #run(List, String...)} with these environment variables set and those named in unset removed. */
    static Result run(Map<String, String> env, List<String> unset, List<String> jvmArgs, String... args)
            throws IOException, InterruptedException {
        return run("dev.wudi.cli.Main", env, unset, jvmArgs, args);
    }

    /** As {@link #run(List, String...)} with the child's working directory at dir. */
    static Result runIn(Path dir, String... args) throws IOException, InterruptedException {
        return run("dev.wudi.cli.Main", Map.of(), List.of(), List.of(), dir, args);
    }

    /** As {@link #run(Map, List, List, String...)} with another main class (one that wraps Main). */
    static Result run(String mainClass, Map<String, String> env, List<String> unset, List<String> jvmArgs,
                      String... args) throws IOException, InterruptedException {
        return run(mainClass, env, unset, jvmArgs, null, args);
    }

    /** The general form: another main class, environment changes, JVM options and a working directory (or null). */
    static Result run(String mainClass, Map<String, String> env, List<String> unset, List<String> jvmArgs,
                      Path workingDir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmArgs);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("wudi-cli", ".out");
        Path err = Files.createTempFile("wudi-cli", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
            if (workingDir != null) {
                pb.directory(workingDir.toFile());
            }
            unset.forEach(pb.environment()::remove);
            pb.environment().putAll(env);
            Process p = pb.start();
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("wudi " + String.join(" ", args) + " did not finish in 300 s");
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /**
     * Starts `wudi` in a child JVM without waiting, stdout and stderr to the given files; wrapper (for
     * example bash -c 'ulimit ...; exec "$0" "$@"') goes before the java command.
     */
    static Process start(List<String> wrapper, List<String> jvmArgs, Path stdout, Path stderr, String... args)
            throws IOException {
        List<String> cmd = new ArrayList<>(wrapper);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmArgs);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("dev.wudi.cli.Main");
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
    }

    static Result run(String... args) throws IOException, InterruptedException {
        return run(List.of(), args);
    }
}
