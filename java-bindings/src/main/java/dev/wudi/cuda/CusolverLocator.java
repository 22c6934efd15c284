package dev.wudi.cuda;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Finds cuSOLVER at run time ({@link LibraryLocator} gives the search order): libcusolver.so.12 (CUDA 13) is tried
 * before libcusolver.so.11 (CUDA 11 and 12) in each folder. Named by -D{@value #PROPERTY} or {@value #ENV}; the
 * wheels are nvidia-cusolver-cu12 and nvidia-cusolver (nvidia/cusolver/lib).
 */
public final class CusolverLocator extends LibraryLocator {

    public static final String PROPERTY = "wudi.cusolver";
    public static final String ENV = "WUDI_CUSOLVER";
    public static final List<String> NAMES = List.of("libcusolver.so.12", "libcusolver.so.11");

    public CusolverLocator(Path root, Map<String, String> env, Properties properties, Path home) {
        super(PROPERTY, ENV, NAMES, "/usr/local/cuda/lib64/libcusolver.so.12",
                "Install cuSOLVER (CUDA toolkit, or pip install nvidia-cusolver)", root, env, properties, home);
    }

    /** The locator of this process: the real file system, environment and system properties. */
    public static CusolverLocator system() {
        return new CusolverLocator(Path.of("/"), System.getenv(), System.getProperties(), userHome());
    }
}
