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

/** The cuBLAS search order, on a fake file system in a temporary folder. */
class CublasLocatorTest {

    @TempDir
    Path root;

    private final Map<String, String> env = new HashMap<>();
    private final Properties props = new Properties();

    private CublasLocator locator() {
        return new CublasLocator(root, env, props, root.resolve("home/user"));
    }

    private Path lib(String folder, String name) throws IOException {
        Path dir = root.resolve(folder);
        Files.createDirectories(dir);
        return Files.writeString(dir.resolve(name), "fake");
    }

    @Test
    void environmentNamingAMissingFileIsAClearError() {
        env.put(CublasLocator.ENV, "/nonexistent/libcublas.so.13");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> locator().locate());
        assertTrue(e.getMessage().startsWith("WUDI_CUBLAS=/nonexistent/libcublas.so.13 names no file."), e.getMessage());
        assertTrue(e.getMessage().contains("libcublas.so.13 or libcublas.so.12"), e.getMessage());
    }

    @Test
    void propertyNamingAMissingFileIsAClearError() {
        props.setProperty(CublasLocator.PROPERTY, "/nonexistent/libcublas.so.12");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> locator().locate());
        assertTrue(e.getMessage().startsWith("-Dwudi.cublas=/nonexistent/libcublas.so.12 names no file."), e.getMessage());
    }

    @Test
    void propertyWinsOverEnvironmentAndOverTheSearch() throws IOException {
        Path fromProp = lib("custom/a", "libcublas.so.12");
        Path fromEnv = lib("custom/b", "libcublas.so.13");
        lib("usr/local/cuda/lib64", "libcublas.so.13");
        env.put(CublasLocator.ENV, fromEnv.toString());
        assertEquals(fromEnv.toString(), locator().locate().library());
        props.setProperty(CublasLocator.PROPERTY, fromProp.toString());
        CublasLocator.Location l = locator().locate();
        assertEquals(fromProp.toString(), l.library());
        assertEquals("named by -Dwudi.cublas", l.how());
    }

    @Test
    void loaderPathComesBeforeTheToolkitWhichComesBeforePythonWheels() throws IOException {
        Path wheel = lib("usr/local/lib/python3.12/dist-packages/nvidia/cu13/lib", "libcublas.so.13");
        assertEquals(wheel.toString(), locator().locate().library());

        Path toolkit = lib("usr/local/cuda/lib64", "libcublas.so.12");
        assertEquals(toolkit.toString(), locator().locate().library());

        Path onLoaderPath = lib("ld/path", "libcublas.so.12");
        env.put("LD_LIBRARY_PATH", "/does/not/exist:" + onLoaderPath.getParent());
        assertEquals(onLoaderPath.toString(), locator().locate().library());
    }

    @Test
    void cudaHomeComesBeforeTheDefaultToolkitAndNewestVersionedToolkitFirst() throws IOException {
        Path v12 = lib("usr/local/cuda-12.8/lib64", "libcublas.so.12");
        Path v13 = lib("usr/local/cuda-13.0/lib64", "libcublas.so.13");
        assertEquals(v13.toString(), locator().locate().library());
        assertTrue(v12.toFile().exists());
        Path home = lib("opt/cuda-home/lib64", "libcublas.so.12");
        env.put("CUDA_HOME", home.getParent().getParent().toString());
        assertEquals(home.toString(), locator().locate().library());
    }

    @Test
    void version13IsPreferredWithinAFolder() throws IOException {
        lib("usr/lib/x86_64-linux-gnu", "libcublas.so.12");
        Path v13 = lib("usr/lib/x86_64-linux-gnu", "libcublas.so.13");
        assertEquals(v13.toString(), locator().locate().library());
    }

    @Test
    void findsWheelsInUserSitePyenvVenvsAndPythonPath() throws IOException {
        Path user = lib("home/user/.local/lib/python3.11/site-packages/nvidia/cublas/lib", "libcublas.so.12");
        assertEquals(user.toString(), locator().locate().library());

        Path pyenv = lib("home/user/.pyenv/versions/3.10.4/lib/python3.10/site-packages/nvidia/cublas/lib", "libcublas.so.12");
        Files.delete(user);
        assertEquals(pyenv.toString(), locator().locate().library());

        Path optVenv = lib("opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib", "libcublas.so.13");
        Files.delete(pyenv);
        assertEquals(optVenv.toString(), locator().locate().library());

        Path pp = lib("pp/nvidia/cublas/lib", "libcublas.so.12");
        env.put("PYTHONPATH", root.resolve("pp").toString());
        assertEquals(pp.toString(), locator().locate().library());
    }

    @Test
    void nothingFoundLeavesTheBareNameToTheLoader() {
        CublasLocator.Location l = locator().locate();
        assertEquals("libcublas.so.13", l.library());
        assertFalse(l.isFile());
        assertTrue(l.how().contains("left to the dynamic loader"), l.how());
    }
}
