package dev.wudi.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs `wudi` in this JVM (the merges of these tests are many and small; a child JVM per run would cost more
 * than the merges) and reads what it wrote.
 */
public final class Wudi {

    public record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "\n--- stderr\n" + err;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private Wudi() {
    }

    /** `wudi ARGS` with stdout and stderr captured; --device cpu is added to merge, mergekit-yaml and plan. */
    public static synchronized Result run(String... args) {
        List<String> a = new ArrayList<>(List.of(args));
        if (!a.isEmpty() && List.of("merge", "mergekit-yaml", "plan").contains(a.get(0)) && !a.contains("--device")) {
            a.add("--device");
            a.add("cpu");
        }
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            exit = Main.execute(a.toArray(new String[0]));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        return new Result(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    /** `merge --base BASE --out OUT --model M...` followed by more options. */
    public static String[] mergeArgs(Path base, List<Path> models, Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("merge", "--base", base.toString(), "--out", out.toString()));
        for (Path m : models) {
            a.add("--model");
            a.add(m.toString());
        }
        a.addAll(List.of(more));
        return a.toArray(new String[0]);
    }

    /** As run, failing the test unless the exit code is 0. */
    public static Result ok(String... args) {
        Result r = run(args);
        if (r.exit() != 0) {
            throw new AssertionError("wudi " + String.join(" ", args) + "\n" + r);
        }
        return r;
    }

    /** Every floating tensor of a checkpoint, widened to float32, in its order. */
    public static Map<String, Tensor> tensors(Path checkpoint) throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (Checkpoint c = Checkpoint.open(checkpoint)) {
            for (String n : c.names()) {
                TensorRef r = c.tensor(n);
                if (!r.info().dtype().mergeable()) {
                    continue;
                }
                float[] v = new float[Math.toIntExact(r.info().numel())];
                r.readAll(v);
                out.put(n, new Tensor(v, r.info().shape().clone()));
            }
        }
        return out;
    }

    /** name -> shape of every tensor of a checkpoint. */
    public static Map<String, List<Long>> shapes(Path checkpoint) throws IOException {
        Map<String, List<Long>> out = new LinkedHashMap<>();
        try (Checkpoint c = Checkpoint.open(checkpoint)) {
            for (String n : c.names()) {
                List<Long> s = new ArrayList<>();
                for (long d : c.tensor(n).info().shape()) {
                    s.add(d);
                }
                out.put(n, s);
            }
        }
        return out;
    }

    public static JsonNode json(Path file) throws IOException {
        return JSON.readTree(file.toFile());
    }

    public static JsonNode json(String text) throws IOException {
        return JSON.readTree(text);
    }

    /** The report's record of one tensor. */
    public static JsonNode record(JsonNode report, String name) {
        for (JsonNode t : report.get("tensors")) {
            if (t.get("name").asText().equals(name)) {
                return t;
            }
        }
        throw new AssertionError("no tensor " + name + " in the report");
    }
}
