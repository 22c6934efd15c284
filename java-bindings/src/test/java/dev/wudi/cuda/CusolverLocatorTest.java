package dev.wudi.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cuSOLVER search order, on a fake file system in a temporary folder; and its error messages. */
class CusolverLocatorTest {

    @TempDir
    Path root;

    private final Map<String, String> env = new HashMap<>();
    private final Properties props = new Properties();

    private CusolverLocator locator() {
        return new CusolverLocator(root, env, props, root.resolve("home/user"));
    }

    private Path lib(String folder, String name) throws IOException {
        Path dir = root.resolve(folder);
        Files.createDirectories(dir);
        return Files.writeString(dir.resolve(name), "fake");
    }

    @Test
    void explicitSettingsWinAndAMissingFileIsAClearError() throws IOException {
        lib("usr/local/cuda/lib64", "libcusolver.so.12");
        env.put(CusolverLocator.ENV, "/nonexistent/libcusolver.so.12");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> locator().locate());
        assertTrue(e.getMessage().startsWith("WUDI_CUSOLVER=/nonexistent/libcusolver.so.12 names no file."), e.getMessage());
        assertTrue(e.getMessage().contains("libcusolver.so.12 or libcusolver.so.11"), e.getMessage());

        Path fromEnv = lib("custom/b", "libcusolver.so.11");
        env.put(CusolverLocator.ENV, fromEnv.toString());
        assertEquals(fromEnv.toString(), locator().locate().library());
        Path fromProp = lib("custom/a", "libcusolver.so.12");
        props.setProperty(CusolverLocator.PROPERTY, fromProp.toString());
        assertEquals(fromProp.toString(), locator().locate().library());
        assertEquals("named by -Dwudi.cusolver", locator().locate().how());
    }

    @Test
    void loaderPathThenToolkitThenWheels() throws IOException {
        Path wheel = lib("usr/local/lib/python3.12/dist-packages/nvidia/cusolver/lib", "libcusolver.so.11");
        assertEquals(wheel.toString(), locator().locate().library());

        Path toolkit = lib("usr/local/cuda-13.0/lib64", "libcusolver.so.12");
        assertEquals(toolkit.toString(), locator().locate().library());

        Path home = lib("opt/cuda-home/lib64", "libcusolver.so.11");
        env.put("CUDA_HOME", home.getParent().getParent().toString());
        assertEquals(home.toString(), locator().locate().library());

        Path onLoaderPath = lib("ld/path", "libcusolver.so.11");
        env.put("LD_LIBRARY_PATH", "/does/not/exist:" + onLoaderPath.getParent());
        assertEquals(onLoaderPath.toString(), locator().locate().library());
    }

    @Test
    void cuda13sVersion12IsPreferredWithinAFolderAndVenvWheelsAreFound() throws IOException {
        lib("usr/lib/x86_64-linux-gnu", "libcusolver.so.11");
        Path v12 = lib("usr/lib/x86_64-linux-gnu", "libcusolver.so.12");
        assertEquals(v12.toString(), locator().locate().library());

        Files.delete(v12);
        Files.delete(root.resolve("usr/lib/x86_64-linux-gnu/libcusolver.so.11"));
        Path venv = lib("venv/lib/python3.11/site-packages/nvidia/cusolver/lib", "libcusolver.so.11");
        env.put("VIRTUAL_ENV", root.resolve("venv").toString());
        assertEquals(venv.toString(), locator().locate().library());
    }

    @Test
    void nothingFoundLeavesTheBareNameToTheLoader() {
        LibraryLocator.Location l = locator().locate();
        assertEquals("libcusolver.so.12", l.library());
        assertFalse(l.isFile());
        assertTrue(locator().installHint().contains("nvidia-cusolver"), locator().installHint());
    }

    @Test
    void failingCallNamesTheCallAndTheStatus() {
        CudaException e = assertThrows(CudaException.class,
                () -> CusolverStatus.check(6, "cusolverDnDsyevd", "eigendecomposition of C of tensor X"));
        assertEquals("cusolverDnDsyevd failed: CUSOLVER_STATUS_EXECUTION_FAILED while eigendecomposition of C of tensor X",
                e.getMessage());
        assertEquals("cusolverStatus_t 42", CusolverStatus.name(42));
    }
}
