package dev.wudi.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs many `wudi` commands in one JVM (what {@link GoldenOutputsTest} needs: one start-up, one OpenBLAS kernel
 * choice): each line of the file args[0] is a case, its name then its arguments, tab-separated; prints "name exit"
 * per case, and the first lines of stderr of a case that failed.
 */
public final class GoldenRunner {

    private GoldenRunner() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = System.out;
        PrintStream err = System.err;
        List<String> results = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            String[] parts = line.split("\t");
            String name = parts[0];
            String[] cmd = java.util.Arrays.copyOfRange(parts, 1, parts.length);
            ByteArrayOutputStream e = new ByteArrayOutputStream();
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            System.setOut(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
            int exit;
            try {
                exit = Main.execute(cmd);
            } finally {
                System.setErr(err);
                System.setOut(out);
            }
            results.add(name + " " + exit + (exit == 0 ? "" : " " + e.toString(StandardCharsets.UTF_8)
                    .lines().limit(3).reduce("", (a, b) -> a + " | " + b)));
        }
        results.forEach(out::println);
        out.flush();
        System.exit(0);
    }
}
