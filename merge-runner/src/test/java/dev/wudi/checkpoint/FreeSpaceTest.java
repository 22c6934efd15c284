package dev.wudi.checkpoint;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The up-front free-space check: refused with both figures, passed when it fits, a resume counts what is kept. */
class FreeSpaceTest {

    @TempDir
    Path dir;

    @Test
    void anOutputLargerThanTheFreeSpaceIsRefusedWithBothFigures() {
        CheckpointException e = assertThrows(CheckpointException.class, () ->
                FreeSpace.require(Path.of("merged"), Path.of("/data"), 14_200_000_000L, 3_100_000_000L));
        assertEquals("not enough free space for merged: the merge writes 14.20 GB and /data has 3.10 GB free;"
                + " free 11.10 GB there or give --out on another disk (nothing was written)", e.getMessage());
        assertDoesNotThrow(() -> FreeSpace.require(Path.of("merged"), Path.of("/data"), 3_100_000_000L, 3_100_000_000L));
    }

    @Test
    void usableSpaceIsAskedOfTheNearestExistingFolder() throws Exception {
        long here = FreeSpace.usable(dir);
        long below = FreeSpace.usable(dir.resolve("not/yet/made"));
        assertTrue(here > 0, "a temporary folder has some free space");
        // the same filesystem, asked twice: other processes may write in between, so only the order of magnitude
        assertTrue(Math.abs(here - below) < here / 2 + (1L << 30), here + " vs " + below);
    }

    @Test
    void aPartialOutputCountsEveryFileItHolds() throws Exception {
        assertEquals(0, FreeSpace.sizeOf(dir.resolve("none")));
        Files.write(dir.resolve("one.bin"), new byte[1234]);
        assertEquals(1234, FreeSpace.sizeOf(dir.resolve("one.bin")));
        Path folder = Files.createDirectories(dir.resolve("shards/sub"));
        Files.write(folder.resolve("a"), new byte[100]);
        Files.write(dir.resolve("shards/b"), new byte[23]);
        assertEquals(123, FreeSpace.sizeOf(dir.resolve("shards")));
    }

    @Test
    void sizesReadAsDiskToolsPrintThem() {
        assertEquals("999 B", FreeSpace.human(999));
        assertEquals("1.00 KB", FreeSpace.human(1000));
        assertEquals("4.29 GB", FreeSpace.human(4_294_967_296L));
    }
}
