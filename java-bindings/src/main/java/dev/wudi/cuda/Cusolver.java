package dev.wudi.cuda;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * A cuSOLVER dense handle bound to one stream, with the one call the spectral solvers need: the symmetric
 * eigendecomposition (syevd, divide and conquer) in double, as LAPACK's dsyevd on the CPU. cuSOLVER is optional:
 * {@link #unavailableReason()} says whether it can be loaded, and the caller falls back to the CPU otherwise.
 */
public final class Cusolver implements AutoCloseable {

    private static CusolverNative lib;
    private static LibraryLocator.Location libLocation;
    private static String failure;

    private final CudaDevice device;
    private final CudaStream stream;
    private final Pointer handle;
    private boolean closed;

    private Cusolver(CudaDevice device, CudaStream stream) {
        this.device = device;
        this.stream = stream;
        device.makeCurrent();
        CusolverNative l = library();
        PointerByReference h = new PointerByReference();
        CusolverStatus.check(l.cusolverDnCreate(h), "cusolverDnCreate", "creating a cuSOLVER handle on " + device.name());
        this.handle = h.getValue();
        CusolverStatus.check(l.cusolverDnSetStream(handle, new Pointer(stream.address())), "cusolverDnSetStream",
                "binding cuSOLVER to the engine's stream");
    }

    /**
     * A handle whose work runs on {@code stream}.
     *
     * @throws IllegalStateException if cuSOLVER cannot be loaded (see {@link #unavailableReason()})
     */
    public static Cusolver create(CudaDevice device, CudaStream stream) {
        return new Cusolver(device, stream);
    }

    /**
     * Null if cuSOLVER loads; else one line saying why not and how to fix it. Tries once per process
     * ({@link CusolverLocator#system()}).
     */
    public static synchronized String unavailableReason() {
        try {
            library();
            return null;
        } catch (IllegalStateException e) {
            return e.getMessage();
        }
    }

    static synchronized CusolverNative library() {
        if (lib == null) {
            if (failure != null) {
                throw new IllegalStateException(failure);
            }
            CusolverLocator locator = CusolverLocator.system();
            LibraryLocator.Location where;
            try {
                where = locator.locate();
                lib = CusolverNative.load(where.library());
                libLocation = where;
            } catch (IllegalStateException e) {
                failure = e.getMessage();
                throw e;
            } catch (UnsatisfiedLinkError e) {
                failure = "cannot load cuSOLVER " + CusolverLocator.NAMES + ": " + e.getMessage() + ". "
                        + locator.installHint() + " or set " + CusolverLocator.ENV + "=/path/to/libcusolver.so.12";
                throw new IllegalStateException(failure, e);
            }
        }
        return lib;
    }

    /**
     * cuSOLVER's version ("11.7.3"), or null where it cannot be read (a library without cusolverGetVersion).
     *
     * @throws IllegalStateException where cuSOLVER does not load (see {@link #unavailableReason()})
     */
    public static synchronized String version() {
        IntByReference v = new IntByReference();
        try {
            if (library().cusolverGetVersion(v) != 0) {
                return null;
            }
        } catch (UnsatisfiedLinkError e) {
            return null;
        }
        int x = v.getValue();
        return (x / 1000) + "." + (x % 1000) / 100 + "." + x % 100;
    }

    /** Where the loaded cuSOLVER came from, or null before the first handle. */
    public static synchronized String loadedFrom() {
        return libLocation == null ? null : libLocation.library() + " (" + libLocation.how() + ")";
    }

    /**
     * C = V diag(w) V^T in place: {@code a} holds the symmetric (n, n) matrix as column-major doubles (only the
     * upper triangle is read) and is overwritten by V, eigenvector j in column j; {@code w} (n doubles) receives
     * the eigenvalues in ascending order. Queued on the handle's stream; blocks until done, to read devInfo.
     *
     * @throws ArithmeticException if syevd did not converge (devInfo &gt; 0)
     * @throws CudaException naming the call and its cusolverStatus_t if a call fails
     */
    public void symmetricEigen(DeviceBuffer a, int n, DeviceBuffer w, String context) {
        a.checkRange(8L * n * n);
        w.checkRange(8L * n);
        Pointer h = handle();
        IntByReference lwork = new IntByReference();
        int jobz = CusolverNative.CUSOLVER_EIG_MODE_VECTOR;
        int uplo = CusolverNative.CUBLAS_FILL_MODE_UPPER;
        Pointer pa = new Pointer(a.address());
        Pointer pw = new Pointer(w.address());
        CusolverStatus.check(lib.cusolverDnDsyevd_bufferSize(h, jobz, uplo, n, pa, n, pw, lwork),
                "cusolverDnDsyevd_bufferSize", context);
        try (DeviceBuffer work = device.allocate(8L * Math.max(1, lwork.getValue()), "cuSOLVER syevd workspace (" + context + ")");
             DeviceBuffer info = device.allocate(8, "cuSOLVER devInfo (" + context + ")")) {
            CusolverStatus.check(lib.cusolverDnDsyevd(h, jobz, uplo, n, pa, n, pw, new Pointer(work.address()),
                    lwork.getValue(), new Pointer(info.address())), "cusolverDnDsyevd", context);
            stream.synchronize(context);
            int[] devInfo = new int[1];
            info.download(devInfo);
            if (devInfo[0] != 0) {
                throw new ArithmeticException("cusolverDnDsyevd on an [" + n + ", " + n + "] matrix (" + context + "): devInfo "
                        + devInfo[0] + (devInfo[0] > 0 ? ": did not converge" : ": illegal argument " + (-devInfo[0])));
            }
        }
    }

    private Pointer handle() {
        if (closed) {
            throw new IllegalStateException("cuSOLVER handle is closed");
        }
        device.makeCurrent();
        return handle;
    }

    @Override
    public void close() {
        if (!closed) {
            device.makeCurrent();
            closed = true;
            CusolverStatus.check(lib.cusolverDnDestroy(handle), "cusolverDnDestroy", "releasing the cuSOLVER handle");
        }
    }
}
