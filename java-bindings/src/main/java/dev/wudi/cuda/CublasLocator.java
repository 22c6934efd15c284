package dev.wudi.cuda;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Finds libcublas.so.13 or libcublas.so.12 at run time ({@link LibraryLocator} gives the search order; in each
 * folder .so.13 is tried first). JCublas2 cannot be used: it is linked against libcublas.so.12, and GPU machines
 * with only CUDA 13 have no such file. The wheels are nvidia-cublas-cu12 and nvidia-cublas (nvidia/cublas/lib).
 */
public final class CublasLocator extends LibraryLocator {

    public static final String PROPERTY = "wudi.cublas";
    public static final String ENV = "WUDI_CUBLAS";
    public static final List<String> NAMES = List.of("libcublas.so.13", "libcublas.so.12");

    public CublasLocator(Path root, Map<String, String> env, Properties properties, Path home) {
        super(PROPERTY, ENV, NAMES, "/usr/local/cuda/lib64/libcublas.so.13",
                "Install cuBLAS (CUDA toolkit, or pip install nvidia-cublas)", root, env, properties, home);
    }

    /** The locator of this process: the real file system, environment and system properties. */
    public static CublasLocator system() {
        return new CublasLocator(Path.of("/"), System.getenv(), System.getProperties(), userHome());
    }
}
