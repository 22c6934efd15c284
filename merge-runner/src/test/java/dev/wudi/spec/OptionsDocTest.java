package dev.wudi.spec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * docs/options.md is what {@link OptionsDoc} writes from the options' one declaration: a change to an option without
 * the page fails here ({@code -Dwudi.docs.update=true} rewrites the page).
 */
class OptionsDocTest {

    private static final Path PAGE = Path.of("..", "docs", "options.md");

    @Test
    void theOptionsPageIsCurrent() throws Exception {
        String now = OptionsDoc.render();
        if (Boolean.getBoolean("wudi.docs.update")) {
            Files.writeString(PAGE, now, StandardCharsets.UTF_8);
        }
        assertEquals(now, Files.readString(PAGE, StandardCharsets.UTF_8), PAGE.toAbsolutePath()
                + " is out of date: run `mvn -pl merge-runner test -Dtest=OptionsDocTest -Dwudi.docs.update=true`");
    }
}
