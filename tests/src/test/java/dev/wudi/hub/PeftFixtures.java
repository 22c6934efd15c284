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

    /** Why a test that needs the adapters did not run, in the words the build prints. */
    public static final String ABSENT = "needs the third-party PEFT adapters of ../shared/fixtures/peft-real, which"
            + " are not part of this repository";

    /** Where the folder is looked for: -Dwudi.fixtures, then beside the checkout from either working directory. */
    public static List<Path> tried() {
        List<Path> tried = new ArrayList<>();
        String prop = System.getProperty("wudi.fixtures");
        if (prop != null) {
            tried.add(Path.of(prop));
        }
        tried.add(Path.of("..", "..", "shared", "fixtures"));
        tried.add(Path.of("..", "shared", "fixtures"));
        return tried;
    }

    /** The peft-real folder, or null where it is absent. */
    public static Path find() {
        for (Path p : tried()) {
            Path d = p.resolve("peft-real").toAbsolutePath().normalize();
            if (Files.isDirectory(d)) {
                return d;
            }
        }
        return null;
    }

    /** The peft-real folder; the calling test is skipped, with {@link #ABSENT} as the reason, when it is absent. */
    public static Path root() {
        Path d = find();
        assumeTrue(d != null, ABSENT + " (looked in " + tried() + ")");
        return d;
    }

    /** One adapter folder, e.g. "gpt2-lora-cattn-r8/anirudh-ak__peft-gpt2"; skipped when absent. */
    public static Path adapter(String relative) {
        Path d = root().resolve(relative);
        assumeTrue(Files.isRegularFile(d.resolve(PeftAdapter.WEIGHTS)), "adapter not found: " + d);
        return d;
    }
}
