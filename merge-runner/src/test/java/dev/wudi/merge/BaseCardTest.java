package dev.wudi.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The base's card as the merge card keeps it: the body without the front matter, and the licence keys alone. */
class BaseCardTest {

    private static final Path FILE = Path.of("base/README.md");

    @Test
    void theFrontMatterGivesTheLicenceAndIsLeftOutOfTheBody() {
        BaseCard c = BaseCard.parse(FILE, "---\nlicense: other\nlicense_name: llama3\nlicense_link: LICENSE\n"
                + "tags:\n- text-generation\n---\n\n\n# Title\n\nText.\n\n");
        assertEquals(Map.of("license", "other", "license_name", "llama3", "license_link", "LICENSE"), c.license());
        assertEquals("# Title\n\nText.", c.body());
        assertEquals(FILE, c.file());
    }

    @Test
    void aCardWithoutFrontMatterIsAllBodyAndClaimsNoLicence() {
        BaseCard c = BaseCard.parse(FILE, "# Title\r\n\r\nText.\r\n");
        assertEquals("# Title\n\nText.", c.body());
        assertEquals(Map.of(), c.license());
    }

    @Test
    void frontMatterOnlyOrUnreadableFrontMatter() {
        BaseCard only = BaseCard.parse(FILE, "---\nlicense: mit\n---\n");
        assertEquals("", only.body());
        assertEquals(Map.of("license", "mit"), only.license());
        BaseCard bad = BaseCard.parse(FILE, "---\nlicense: [mit\n---\nBody.\n");
        assertEquals(Map.of(), bad.license(), "no licence is claimed from YAML nobody can read");
        assertEquals("Body.", bad.body());
        BaseCard unclosed = BaseCard.parse(FILE, "---\nnot front matter after all\n");
        assertEquals("---\nnot front matter after all", unclosed.body());
    }
}
