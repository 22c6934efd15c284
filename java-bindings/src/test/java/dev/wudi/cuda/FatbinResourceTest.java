package dev.wudi.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Where the build found nvcc, the fatbin must be on the classpath (target/classes, which is what the jar
 * packs). Where it did not, the test is skipped with the build's own reason.
 */
class FatbinResourceTest {

    @Test
    void fatbinIsPackedWhenNvccWasThere() {
        String status = FatbinResource.buildStatus();
        Assumptions.assumeTrue(FatbinResource.builtByThisBuild(), "kernels were not built: " + status);
        assertTrue(FatbinResource.present(), "build says " + status + " but " + FatbinResource.PATH + " is missing");
        byte[] image = FatbinResource.load();
        assertTrue(image.length > 1024, "fatbin of " + image.length + " bytes");
        // A fatbin starts with the little-endian magic 0xBA55ED50.
        int magic = (image[0] & 0xff) | (image[1] & 0xff) << 8 | (image[2] & 0xff) << 16 | (image[3] & 0xff) << 24;
        assertEquals(0xBA55ED50, magic);
        assertTrue(status.contains("sm_90") && status.contains("compute_90"), status);
    }
}
