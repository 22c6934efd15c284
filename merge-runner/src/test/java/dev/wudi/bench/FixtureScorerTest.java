package dev.wudi.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FixtureScorerTest {

    static Path digits6() {
        for (Path p : List.of(Path.of("../tests/fixtures/digits6"), Path.of("tests/fixtures/digits6"))) {
            if (Files.isRegularFile(p.resolve("fixture.json"))) {
                return p;
            }
        }
        return null;
    }

    /** The scorer reproduces the fixture's reference accuracies (reference/accuracy.txt). */
    @Test
    void reproducesTheReferenceAccuracies() throws IOException {
        Path dir = digits6();
        assertNotNull(dir, "tests/fixtures/digits6 is part of the repository");
        FixtureScorer fx = FixtureScorer.open(dir);
        assertEquals(List.of("rot90", "fliplr", "invert", "permute", "rot180_parity", "flipud_ge5"), fx.tasks());
        assertEquals(List.of("enc.fc1", "enc.fc2", "enc.fc3"), fx.layers());
        assertEquals(75.77, FixtureScorer.mean(fx.accuracy(fx.base())), 0.005);
        double[] lr3 = fx.accuracy(dir.resolve("reference/wudi_adam_lr1e-3_300.safetensors"));
        assertEquals(85.93, lr3[0], 0.005);
        assertEquals(89.48, FixtureScorer.mean(lr3), 0.005);
    }

    @Test
    void refusesAFolderThatIsNotAFixture(@TempDir Path tmp) throws IOException {
        IOException e = assertThrows(IOException.class, () -> FixtureScorer.open(tmp));
        assertEquals(true, e.getMessage().contains("fixture.json"));
        Files.writeString(tmp.resolve("fixture.json"), "{\"tasks\": []}");
        assertThrows(IOException.class, () -> FixtureScorer.open(tmp));
    }
}
