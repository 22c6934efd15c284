package dev.wudi.cpu;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;
import java.util.Properties;

/**
 * The CPU backend's fused Adam pass in native code: cuda-kernels/cpu/fused_adam_cpu.c, built by CMake with
 * the C compiler into libwudi_cpu and packed into this jar under dev/wudi/cpu/&lt;os&gt;-&lt;arch&gt;/. The
 * arrays are native memory (OpenBLAS reads tau_m and writes P there), passed by address.
 *
 * <p>Loaded once, on first use. When the jar has no library for this platform, the build skipped it (no C
 * compiler, no cmake), loading fails, or a user turned it off ({@value #SWITCH_PROPERTY}=java, or
 * {@value #SWITCH_ENV}=java), {@link #available()} is false and {@link #status()} says why in one line:
 * the CPU backend then runs its Java pass, which gives the same bits, slower (about twice as long per
 * element at [768, 768] on the development machine). The switch's other values, auto and native, both
 * mean: use the library where it loads.
 */
public final class CpuAdamKernel {

    /** Classpath folder of the library (under an &lt;os&gt;-&lt;arch&gt; folder) and of the build's status file. */
    public static final String DIR = "/dev/wudi/cpu/";
    /** Classpath location of the status file CMake writes: status=built|skipped, and why. */
    public static final String STATUS_PATH = DIR + "cpu-kernels.properties";
    /** -Dwudi.cpu.adam=java turns the native pass off (for comparison, or to rule it out). */
    public static final String SWITCH_PROPERTY = "wudi.cpu.adam";
    /** WUDI_CPU_ADAM=java does the same from the environment. */
    public static final String SWITCH_ENV = "WUDI_CPU_ADAM";

    private static final String LIBRARY = "wudi_cpu";

    private CpuAdamKernel() {
    }

    /** The direct-mapped C functions; registered against the library file once it is found. */
    private static final class Calls {
        static native double wudi_cpu_fused_adam(Pointer p, Pointer d, Pointer m, Pointer v, Pointer tau, long n,
                                                 float lerpWeight, float beta2, float oneMinusBeta2,
                                                 float bc2Sqrt, float eps, float negStepSize, int withLoss,
                                                 int chunk);

        static native double wudi_cpu_gram_loss_terms(Pointer p, Pointer d, Pointer tau, long n);

        static native String wudi_cpu_isa();
    }

    /** Whether the library loaded, and what it is or why not; offByChoice: the switch said java. */
    private record State(boolean loaded, String status, boolean offByChoice) {
        State(boolean loaded, String status) {
            this(loaded, status, false);
        }
    }

    private static final class Holder {
        static final State STATE = load();
    }

    /** True if the native pass can be called. */
    public static boolean available() {
        return Holder.STATE.loaded();
    }

    /**
     * One line for the backend's description: "native (libwudi_cpu, x86-64-v4 (AVX-512))", or why not:
     * "off (-Dwudi.cpu.adam=java)", "not in this jar for linux-x86-64 (its build: skipped (...))", ...
     */
    public static String status() {
        return Holder.STATE.status();
    }

    /** True if the user turned the native pass off (=java), as opposed to its being missing or broken. */
    public static boolean offByChoice() {
        return Holder.STATE.offByChoice();
    }

    /**
     * One Adam step on n elements at the given addresses (each the first of n floats): updates m, v and
     * tau in place from P = tau C and D. With withLoss it also returns sum (P - 2 D) tau at the step's start
     * in double, summed chunk by chunk (chunk elements each) in order; otherwise 0.
     *
     * @throws IllegalStateException if the library is not {@link #available()}
     */
    public static double fusedAdam(long p, long d, long m, long v, long tau, long n, float lerpWeight, float beta2,
                                   float oneMinusBeta2, float bc2Sqrt, float eps, float negStepSize,
                                   boolean withLoss, int chunk) {
        requireLoaded();
        checkArgs(n, p, d, m, v, tau);
        if (chunk <= 0) {
            throw new IllegalArgumentException("chunk must be positive, got " + chunk);
        }
        return Calls.wudi_cpu_fused_adam(new Pointer(p), new Pointer(d), new Pointer(m), new Pointer(v),
                new Pointer(tau), n, lerpWeight, beta2, oneMinusBeta2, bc2Sqrt, eps, negStepSize, withLoss ? 1 : 0,
                chunk);
    }

    /** sum over n elements of (P - 2 D) tau in double, four partial sums as the Java reference adds them. */
    public static double gramLossTerms(long p, long d, long tau, long n) {
        requireLoaded();
        checkArgs(n, p, d, tau);
        return Calls.wudi_cpu_gram_loss_terms(new Pointer(p), new Pointer(d), new Pointer(tau), n);
    }

    private static void requireLoaded() {
        if (!available()) {
            throw new IllegalStateException("the native CPU Adam pass is not available: " + status());
        }
    }

    private static void checkArgs(long n, long... addresses) {
        if (n < 0) {
            throw new IllegalArgumentException("element count must be >= 0, got " + n);
        }
        for (long a : addresses) {
            if (a == 0L) {
                throw new IllegalArgumentException("null address passed to the native CPU Adam pass");
            }
        }
    }

    /** The build's own words: "built (GNU 12.2.0, linux-x86-64)" or "skipped (no C compiler ...)". */
    public static String buildStatus() {
        try (InputStream in = CpuAdamKernel.class.getResourceAsStream(STATUS_PATH)) {
            if (in == null) {
                return "unknown (no " + STATUS_PATH.substring(1) + " in the jar)";
            }
            Properties p = new Properties();
            p.load(in);
            if ("built".equals(p.getProperty("status"))) {
                return "built (" + p.getProperty("compiler", "?") + ", " + p.getProperty("platform", "?") + ")";
            }
            return "skipped (" + p.getProperty("reason", "no reason recorded") + ")";
        } catch (IOException e) {
            return "unknown (" + STATUS_PATH.substring(1) + " unreadable: " + e.getMessage() + ")";
        }
    }

    /** Classpath location of the library for this JVM's platform, e.g. /dev/wudi/cpu/linux-x86-64/libwudi_cpu.so. */
    public static String resourcePath() {
        return DIR + Platform.RESOURCE_PREFIX + "/" + System.mapLibraryName(LIBRARY);
    }

    private static State load() {
        String switched = System.getProperty(SWITCH_PROPERTY);
        String source = "-D" + SWITCH_PROPERTY;
        if (switched == null) {
            switched = System.getenv(SWITCH_ENV);
            source = SWITCH_ENV;
        }
        if (switched != null && !switched.isBlank()) {
            String value = switched.trim().toLowerCase(Locale.ROOT);
            if (value.equals("java")) {
                return new State(false, "off (" + source + "=java)", true);
            }
            if (!value.equals("native") && !value.equals("auto")) {
                return new State(false, "off (" + source + "=" + switched.trim()
                        + " is not one of auto, native, java)");
            }
        }
        String path = resourcePath();
        if (CpuAdamKernel.class.getResource(path) == null) {
            return new State(false, "not in this jar for " + Platform.RESOURCE_PREFIX + " (its build: " + buildStatus()
                    + ")");
        }
        try {
            File file = LibraryCache.file(CpuAdamKernel.class, path);
            NativeLibrary library = NativeLibrary.getInstance(file.getAbsolutePath());
            Native.register(Calls.class, library);
            String isa = Calls.wudi_cpu_isa();
            return new State(true, "native (lib" + LIBRARY + ", " + isa + ")");
        } catch (IOException | LinkageError | RuntimeException e) {
            return new State(false, "could not load " + path.substring(1) + " (" + e.getMessage() + ")");
        }
    }
}
