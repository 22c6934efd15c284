package dev.wudi;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The engine's packages depend only on the ones below them (docs/architecture.md): every reference to
 * dev.wudi.PACKAGE in the main sources of one package, comments aside, is to a package this table allows it.
 */
class PackageArrowsTest {

    private static final Set<String> BINDINGS = Set.of("cuda", "cpu", "adam");

    /** Each package and the engine packages below it that it may use (the bindings' packages always). */
    private static final Map<String, Set<String>> ALLOWED = Map.ofEntries(
            Map.entry("format", Set.of()),
            Map.entry("linalg", Set.of()),
            Map.entry("checkpoint", Set.of("format")),
            Map.entry("model", Set.of("checkpoint", "format")),
            Map.entry("solver", Set.of("linalg")),
            Map.entry("lora", Set.of("solver", "model", "checkpoint", "linalg", "format")),
            Map.entry("backend", Set.of("lora", "solver", "linalg", "format")),
            Map.entry("method", Set.of("backend", "lora", "solver", "model", "checkpoint", "format")),
            Map.entry("spec", Set.of("method", "backend", "model", "solver", "checkpoint", "format")),
            Map.entry("merge", Set.of("spec", "method", "backend", "lora", "solver", "model", "checkpoint", "linalg",
                    "format")),
            Map.entry("config", Set.of("spec", "method", "lora", "model", "checkpoint", "format")));

    private static final Pattern REFERENCE = Pattern.compile("\\bdev\\.wudi\\.(\\w+)\\.");

    @Test
    void everyPackageUsesOnlyThePackagesBelowIt() throws IOException {
        Path root = Path.of("src", "main", "java", "dev", "wudi");
        List<String> wrong = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
                String pkg = root.relativize(f).getName(0).toString();
                Set<String> allowed = ALLOWED.get(pkg);
                if (allowed == null) {
                    continue;                                 // a surface (cli, api, bench, ...): may use anything
                }
                String code = Files.readString(f).replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\\n]*", "");
                Matcher m = REFERENCE.matcher(code);
                while (m.find()) {
                    String to = m.group(1);
                    if (!to.equals(pkg) && !allowed.contains(to) && !BINDINGS.contains(to)) {
                        wrong.add(root.relativize(f) + " uses " + to);
                    }
                }
            }
        }
        assertTrue(wrong.isEmpty(), "arrows that point up: " + String.join("; ", wrong.stream().distinct().toList()));
    }
}
