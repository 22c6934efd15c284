package dev.wudi.e2e;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates ../shared/fixtures (the build passes it as the system property wudi.fixtures). */
final class Fixtures {

    private Fixtures() {
    }

    /** The digits6 folder; the calling test is skipped, naming the path, when it is absent. */
    static Path digits6() {
        String prop = System.getProperty("wudi.fixtures");
        Path root = prop != null ? Path.of(prop) : Path.of("..", "..", "shared", "fixtures");
        Path d = root.resolve("digits6").toAbsolutePath().normalize();
        assumeTrue(Files.isRegularFile(d.resolve("base.safetensors")),
                "fixture digits6 not found at " + d + " (set -Dwudi.fixtures=/path/to/shared/fixtures)");
        return d;
    }
}
