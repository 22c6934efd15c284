package dev.wudi.e2e;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the repository's own fixtures (tests/fixtures). */
final class Fixtures {

    private Fixtures() {
    }

    /**
     * The digits6 folder, part of the repository: under the tests module (Maven's working directory) or, from an IDE,
     * under the repository root.
     */
    static Path digits6() {
        for (Path p : new Path[] {Path.of("fixtures", "digits6"), Path.of("tests", "fixtures", "digits6")}) {
            if (Files.isRegularFile(p.resolve("base.safetensors"))) {
                return p.toAbsolutePath().normalize();
            }
        }
        assertTrue(false, "tests/fixtures/digits6 is part of the repository but was not found from "
                + Path.of("").toAbsolutePath());
        throw new AssertionError("unreachable");
    }
}
