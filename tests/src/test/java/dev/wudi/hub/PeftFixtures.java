package dev.wudi.hub;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Locates ../shared/fixtures/peft-real beside the checkout. The build passes the fixtures root as the
 * system property wudi.fixtures; without it (an IDE run) the test's working directory is either the
 * tests module or the repository root, so both relative spellings are tried.
 */
public final class PeftFixtures {

    private PeftFixtures() {
    }

    /** The peft-real folder; the calling test is skipped, naming the paths tried, when it is absent. */
    public static Path root() {
        List<Path> tried = new ArrayList<>();
        String prop = System.getProperty("wudi.fixtures");
        if (prop != null) {
            tried.add(Path.of(prop));
        }
        tried.add(Path.of("..", "..", "shared", "fixtures"));
        tried.add(Path.of("..", "shared", "fixtures"));
        for (Path p : tried) {
            Path d = p.resolve("peft-real").toAbsolutePath().normalize();
            if (Files.isDirectory(d)) {
                return d;
            }
        }
        assumeTrue(false, "fixture peft-real not found under any of " + tried
                + " (set -Dwudi.fixtures=/path/to/shared/fixtures)");
        throw new AssertionError("unreachable");
    }

    /** One adapter folder, e.g. "gpt2-lora-cattn-r8/anirudh-ak__peft-gpt2"; skipped when absent. */
    public static Path adapter(String relative) {
        Path d = root().resolve(relative);
        assumeTrue(Files.isRegularFile(d.resolve(PeftAdapter.WEIGHTS)), "adapter not found: " + d);
        return d;
    }
}
