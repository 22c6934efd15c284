package dev.wudi.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The config reader's own refusals (size, encoding, aliases, a second document, numbers beyond float64), and its
 * scanning work, which is linear in the text: SnakeYAML's reader copied its look-ahead window again for every 1,024
 * characters of one long token (a 20 MB comment line took 79 s and 1.6 GB).
 */
class LocatedYamlTest {

    @TempDir
    Path tmp;

    private Path file(String name, byte[] bytes) throws Exception {
        Path f = tmp.resolve(name);
        Files.write(f, bytes);
        return f;
    }

    private String refusal(String text) throws Exception {
        Path f = file("c.yml", text.getBytes(StandardCharsets.UTF_8));
        return assertThrows(ConfigException.class, () -> LocatedYaml.read(f)).getMessage();
    }

    /**
     * The scanner's calls on the reader per character of a long token: a comment, a plain, a quoted and a block
     * scalar of n characters, n from 0.5 to 2 MB. Every call is one array access here (no window to copy), so this
     * count is the reader's work; it stays at about 2 per character whatever n, where the old reader's copying grew
     * as n / 2048 per character (about 1,000 at 2 MB).
     */
    @Test
    void scanningWorkIsLinearInTheTokenLength() throws Exception {
        String[] forms = {"# %s\n", "chat_template: %s\n", "chat_template: \"%s\"\n", "chat_template: |\n  %s\n"};
        for (String form : forms) {
            double[] perChar = new double[3];
            int[] sizes = {1 << 19, 1 << 20, 1 << 21};
            for (int k = 0; k < sizes.length; k++) {
                String text = "merge_method: linear\n" + String.format(form, "x".repeat(sizes[k])) + "models: []\n";
                WholeTextReader r = new WholeTextReader("c.yml", text);
                LocatedYaml y = LocatedYaml.parse(Path.of("c.yml"), r);
                assertEquals("linear", y.root().get("merge_method").asText());
                perChar[k] = r.work() / (double) text.length();
            }
            for (double w : perChar) {
                assertTrue(w <= 3, form.trim() + ": " + w + " reader calls per character");
            }
            assertEquals(perChar[0], perChar[2], 0.01, form.trim() + ": the same work per character at 0.5 and 2 MB");
        }
    }

    @Test
    void aFileOverTheCapIsRefusedBeforeItIsRead() throws Exception {
        byte[] big = new byte[(int) LocatedYaml.MAX_BYTES + 1];
        java.util.Arrays.fill(big, (byte) '#');
        Path f = file("big.yml", big);
        String m = assertThrows(ConfigException.class, () -> LocatedYaml.read(f)).getMessage();
        assertTrue(m.contains("big.yml: 1048577 bytes, more than a merge config holds (at most 1048576)"), m);
    }

    @Test
    void aliasesSecondDocumentsAndHugeNumbersNameTheirLine() throws Exception {
        assertTrue(refusal("a: &w0 0.5\nb: *w0\n").contains("c.yml:2: the YAML alias *w0 is not supported"),
                refusal("a: &w0 0.5\nb: *w0\n"));
        assertTrue(refusal("a: 1\n---\nb: 2\n").contains("c.yml:3: a second YAML document"));
        assertTrue(refusal("a: 1\nb: 1e400\n").contains("c.yml:2: the number 1e400 is beyond any float"));
        assertTrue(refusal("a: 1\nb: -1.0e999\n").contains("c.yml:2: the number -1.0e999"));
        assertTrue(refusal("a: 1\nb: \u0007\n").contains("c.yml:2: the character U+0007 is not allowed"));
        assertTrue(refusal("a: 1\na: 2\n").contains("c.yml:2: key 'a' given twice"));
        LocatedYaml big = LocatedYaml.parse(Path.of("c.yml"), "iterations: 99999999999999999999999\n");
        assertTrue(big.root().get("iterations").isBigInteger(), "kept whole, for the setting's range to name it");
    }

    @Test
    void textMustBeUtf8AndAByteOrderMarkIsDropped() throws Exception {
        Path latin1 = file("l.yml", "a: 1\nb: caf\u00e9\n".getBytes(StandardCharsets.ISO_8859_1));
        String m = assertThrows(ConfigException.class, () -> LocatedYaml.read(latin1)).getMessage();
        assertTrue(m.contains("l.yml:2: not UTF-8 text"), m);
        Path bom = file("b.yml", ("\uFEFFmerge_method: ties\n").getBytes(StandardCharsets.UTF_8));
        assertEquals("ties", LocatedYaml.read(bom).root().get("merge_method").asText());
    }
}
