package dev.wudi.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.NativeLibrary;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The probe's fallback paths, which are what CI (no GPU, no driver) always takes. */
class CudaProbeTest {

    @TempDir
    Path root;

    private CublasLocator emptyLocator() {
        return new CublasLocator(root, Map.of(), new Properties(), root.resolve("home"));
    }

    @Test
    void missingDriverGivesOneLineReasonWithTheFix() {
        ProbeResult r = CudaProbe.probe("libwudi-no-such-driver.so.1", emptyLocator());
        assertFalse(r.available());
        assertFalse(r.driverFound());
        assertEquals(0, r.deviceCount());
        assertEquals("no libwudi-no-such-driver.so.1 found; running on CPU. Install the NVIDIA driver or pass --device cpu",
                r.reason());
        assertFalse(r.reason().contains("\n"));
        assertEquals(r.reason(), r.summary());
    }

    @Test
    void withoutLibcudaTheRealProbeSaysSoAndNeverTouchesJCuda() {
        boolean driverHere;
        try {
            NativeLibrary.getInstance(CudaProbe.DRIVER_LIBRARY);
            driverHere = true;
        } catch (UnsatisfiedLinkError e) {
            driverHere = false;
        }
        Assumptions.assumeFalse(driverHere, "this machine has libcuda.so.1; the no-driver path is tested where it has not");
        ProbeResult r = CudaProbe.probe();
        assertFalse(r.available());
        assertEquals("no libcuda.so.1 found; running on CPU. Install the NVIDIA driver or pass --device cpu", r.reason());
        // Had JCuda been touched without a driver its static initialiser would have thrown; the probe returned.
    }

    @Test
    void badCublasSettingIsReportedNotThrown() {
        Properties p = new Properties();
        p.setProperty(CublasLocator.PROPERTY, root.resolve("nope/libcublas.so.13").toString());
        ProbeResult r = CudaProbe.probe("libwudi-no-such-driver.so.1",
                new CublasLocator(root, Map.of(), p, root.resolve("home")));
        assertFalse(r.cublasFound());
        assertTrue(r.cublas().contains("names no file"), r.cublas());
    }

    @Test
    void reportsTheFatbinAsBuilt() {
        ProbeResult r = CudaProbe.probe("libwudi-no-such-driver.so.1", emptyLocator());
        assertEquals(FatbinResource.present(), r.fatbinPresent());
        assertEquals(FatbinResource.buildStatus(), r.fatbinStatus());
    }
}
