package dev.wudi.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The kernels' fatbin as packed into this jar by the build (CMakeLists.txt via java-bindings' pom), and the
 * properties file the build writes beside it saying whether nvcc ran ("status=built") or why not.
 */
public final class FatbinResource {

    /** Classpath location of the fatbin. */
    public static final String PATH = "/dev/wudi/cuda/wudi_kernels.fatbin";
    /** Classpath location of the build's status file. */
    public static final String STATUS_PATH = "/dev/wudi/cuda/kernels.properties";

    private FatbinResource() {
    }

    /** True if the jar holds the fatbin. */
    public static boolean present() {
        return FatbinResource.class.getResource(PATH) != null;
    }

    /** The build's own words: "built (release 13.0; sm_80 ...)" or "skipped (nvcc not found ...)". */
    public static String buildStatus() {
        try (InputStream in = FatbinResource.class.getResourceAsStream(STATUS_PATH)) {
            if (in == null) {
                return "unknown (no " + STATUS_PATH.substring(1) + " in the jar)";
            }
            Properties p = new Properties();
            p.load(in);
            if ("built".equals(p.getProperty("status"))) {
                return "built (" + p.getProperty("nvcc", "?") + "; " + p.getProperty("architectures", "?") + ")";
            }
            return "skipped (" + p.getProperty("reason", "no reason recorded") + ")";
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + STATUS_PATH, e);
        }
    }

    /** True if the build says it compiled the kernels. */
    public static boolean builtByThisBuild() {
        return buildStatus().startsWith("built");
    }

    /** The fatbin's bytes. */
    public static byte[] load() {
        try (InputStream in = FatbinResource.class.getResourceAsStream(PATH)) {
            if (in == null) {
                throw new IllegalStateException("this jar has no CUDA kernels (" + PATH.substring(1) + "): it was built "
                        + buildStatus() + ". Rebuild with nvcc and cmake on the PATH, or use --device cpu");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + PATH, e);
        }
    }
}
