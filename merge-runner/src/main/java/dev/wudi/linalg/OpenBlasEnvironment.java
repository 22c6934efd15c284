package dev.wudi.linalg;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Platform;

/**
 * Settings OpenBLAS reads from the environment once, when its library loads; so this runs before any
 * class touches org.bytedeco.openblas (Blas, and the spectral solvers' LAPACK and GEMM calls).
 *
 * <p>OPENBLAS_THREAD_TIMEOUT=4 (unless the user set it): after a call, OpenBLAS's worker threads spin for
 * 2^timeout cycles waiting for the next one, by default 2^28, about 0.1 s, longer than a whole WUDI step.
 * So they were still spinning while the backend's own threads ran the Adam pass on the same cores, and
 * on the 2-core development machine the pass right after the sgemm then took up to 4x longer in about
 * half of the runs (the pass after the sgemm 1.4-1.6 ms against 0.35-0.45 ms when run again at once; with
 * the timeout at 4 not seen in 28 runs; docs/benchmarks.md has the A/B with the bench). With 4, the
 * workers sleep as soon as a call ends and are woken by the next: tens of microseconds per sgemm, which
 * takes milliseconds at these shapes (OpenBLAS runs small products on one thread anyway). A user's own
 * OPENBLAS_THREAD_TIMEOUT wins.
 */
public final class OpenBlasEnvironment {

    /** The variable and the value this sets when the user has not. */
    static final String TIMEOUT_VARIABLE = "OPENBLAS_THREAD_TIMEOUT";
    static final String TIMEOUT_VALUE = "4";

    private static boolean prepared;
    private static String outcome = "not prepared";

    private OpenBlasEnvironment() {
    }

    private interface LibC extends Library {
        int setenv(String name, String value, int overwrite);
    }

    /** Sets the variables OpenBLAS has not yet read. Idempotent; never throws (a failure is only slower). */
    public static synchronized void prepare() {
        if (prepared) {
            return;
        }
        prepared = true;
        String user = System.getenv(TIMEOUT_VARIABLE);
        if (user != null) {
            outcome = TIMEOUT_VARIABLE + "=" + user + " (yours)";
            return;
        }
        if (Platform.isWindows()) {
            outcome = TIMEOUT_VARIABLE + " left unset (Windows)";
            return;
        }
        try {
            LibC libc = Native.load(Platform.C_LIBRARY_NAME, LibC.class);
            outcome = libc.setenv(TIMEOUT_VARIABLE, TIMEOUT_VALUE, 0) == 0 ? TIMEOUT_VARIABLE + "=" + TIMEOUT_VALUE
                    : TIMEOUT_VARIABLE + " left unset (setenv failed)";
        } catch (LinkageError | RuntimeException e) {
            outcome = TIMEOUT_VARIABLE + " left unset (" + e.getMessage() + ")";
        }
    }

    /** What {@link #prepare()} did, for the backend's description. */
    public static synchronized String describe() {
        return outcome;
    }
}
