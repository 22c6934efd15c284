package dev.wudi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.checkpoint.TaskCheckpoints;
import dev.wudi.config.GivenOptions;
import dev.wudi.method.TensorParameters;
import dev.wudi.spec.MergeOption;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.OptionTable;
import dev.wudi.spec.ReproduceCommand;
import dev.wudi.spec.SpecText;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A command line's merge as text ({@link SpecText}), as a distributed merge ships it to its executors: serialised and
 * read back, it builds the same spec as the command line itself, with or without a mergekit config under options that
 * override it (per-tensor parameters included); its paths are listed and replaced in one order.
 */
class MergeArgsTest {

    @TempDir
    static Path dir;

    static final String[] NAMES = {"l0.attn.weight", "l0.norm.weight", "l1.attn.weight"};
    static final long[][] SHAPES = {{6, 8}, {8}, {6, 8}};

    @BeforeAll
    static void checkpoints() throws Exception {
        TaskCheckpoints.writeFilesAndFolders(dir, NAMES, SHAPES, 100);
    }

    private static MergeArgs parse(String... line) {
        MergeCommand cmd = new MergeCommand();
        MergeArgs.withOptions(new CommandLine(cmd)).parseArgs(line);
        return cmd.mergeArgs();
    }

    @SuppressWarnings("unchecked")
    private static <T> T throughSerialisation(T x) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream o = new ObjectOutputStream(bytes)) {
            o.writeObject(x);
        }
        try (ObjectInputStream i = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            return (T) i.readObject();
        }
    }

    private static void sameSpec(MergeSpec a, MergeSpec b) {
        assertEquals(a.base(), b.base());
        assertEquals(a.models(), b.models());
        assertEquals(a.out(), b.out());
        assertEquals(a.given(), b.given());
        assertEquals(a.command(), b.command());
        assertEquals(ReproduceCommand.of(a), ReproduceCommand.of(b));
        assertEquals(a.settings(MergeOption.Effect.OUTPUT, MergeOption.Effect.FINGERPRINT, MergeOption.Effect.RUN),
                b.settings(MergeOption.Effect.OUTPUT, MergeOption.Effect.FINGERPRINT, MergeOption.Effect.RUN));
        assertEquals(a.parameters().seed(), b.parameters().seed());
        assertEquals(a.config() == null ? null : a.config().normalizedYaml(),
                b.config() == null ? null : b.config().normalizedYaml());
        for (String name : NAMES) {
            TensorParameters x = a.parameters().forTensor(name);
            TensorParameters y = b.parameters().forTensor(name);
            for (String p : List.of("lambda", "density", "weight", "t")) {
                assertEquals(x.global(p), y.global(p), name + " " + p);
                for (int m = 0; m < a.models().size(); m++) {
                    assertEquals(x.model(m, p), y.model(m, p), name + " model " + m + " " + p);
                }
            }
        }
    }

    @Test
    void theTextOfACommandLineBuildsItsSpecAfterSerialisation() throws Exception {
        MergeArgs args = parse("--base", dir.resolve("m0.safetensors").toString(), "--model",
                dir.resolve("m1.safetensors").toString(), "--model", dir.resolve("m2.safetensors").toString(), "--out",
                dir.resolve("o.safetensors").toString(), "--solver", "spectral", "--filter", "tikhonov", "--layout",
                "attn=in-out", "--layout", "l1=out-in", "--threads", "2", "--report", dir.resolve("r.json").toString(),
                "-q");
        SpecText text = throughSerialisation(args.text());
        assertEquals(args.text(), text);
        sameSpec(args.spec(), GivenOptions.builder(text, line -> { }).build());
        assertEquals(List.of("attn=in-out", "l1=out-in"), text.options().get("--layout"));
    }

    @Test
    void aConfigWithOptionsOverItIsReadTheSameFromItsText() throws Exception {
        Path cfg = Files.writeString(dir.resolve("dare.yml"), "merge_method: dare_ties\nbase_model: "
                + dir.resolve("m0.safetensors") + "\nmodels:\n"
                + "  - model: " + dir.resolve("m1.safetensors") + "\n    parameters: {weight: 1.0, density: 0.5}\n"
                + "  - model: " + dir.resolve("m2.safetensors") + "\n    parameters: {weight: 0.5, density: 0.7}\n"
                + "parameters: {lambda: 0.7}\n");
        MergeArgs args = parse("--config", cfg.toString(), "--out", dir.resolve("c.safetensors").toString(),
                "--scale", "0.4", "--density", "0.3", "--seed", "7", "-q");
        SpecText text = throughSerialisation(args.text());
        assertEquals(cfg.toString(), text.config());
        List<String> said = new ArrayList<>();
        MergeSpec rebuilt = GivenOptions.builder(text, said::add).build();
        sameSpec(args.spec(), rebuilt);
        // the options given replace the config's lambda and densities, per model too, and its seed
        assertEquals(0.4, rebuilt.scale());
        assertNull(rebuilt.parameters().forTensor(NAMES[0]).global("lambda"));
        assertNull(rebuilt.parameters().forTensor(NAMES[0]).model(1, "density"));
        assertEquals(0.5, rebuilt.parameters().forTensor(NAMES[0]).model(1, "weight"));
        assertEquals(7, rebuilt.parameters().seed());
        assertNotNull(rebuilt.config());
        assertTrue(said.stream().anyMatch(l -> l.contains("overriding " + cfg) && l.contains("--scale")),
                said.toString());

        // a malformed value over a config is the command line's refusal, not a number parser's
        SpecText badT = new SpecText(null, List.of(), text.out(), text.config(), java.util.Map.of("--t",
                List.of("abc")), null);
        assertEquals("--t abc: 'abc' is not a number", assertThrows(dev.wudi.spec.OptionException.class,
                () -> GivenOptions.builder(badT, line -> { })).getMessage());
    }

    @Test
    void pathsAreListedAndReplacedInOneOrder() {
        SpecText t = parse("--base", "hdfs://nn/b", "--model", "hdfs://nn/m1", "--model", "local/m2", "--out",
                "s3a://bucket/out/", "--report", "r.json", "--report-html", "r.html", "--iters", "3").text();
        assertEquals(List.of("hdfs://nn/b", "hdfs://nn/m1", "local/m2", "s3a://bucket/out/", "r.json", "r.html"),
                t.paths().stream().map(SpecText.Place::text).toList());
        assertEquals(List.of(OptionTable.BASE, OptionTable.MODEL, OptionTable.MODEL, OptionTable.OUT,
                OptionTable.REPORT, OptionTable.REPORT_HTML), t.paths().stream().map(SpecText.Place::option).toList());
        SpecText local = t.withPaths(List.of("/s/in-0/b", "/s/in-1/m1", "local/m2", "/s/out-3/out/", "r.json",
                "/s/out-5/r.html"));
        assertEquals("/s/in-0/b", local.base());
        assertEquals(List.of("/s/in-1/m1", "local/m2"), local.models());
        assertEquals("/s/out-3/out/", local.out());
        assertEquals(List.of("/s/out-5/r.html"), local.options().get("--report-html"));
        assertEquals(List.of("3"), local.options().get("--iters"));
        assertEquals(t, t.withPaths(t.paths().stream().map(SpecText.Place::text).toList()));
    }
}
