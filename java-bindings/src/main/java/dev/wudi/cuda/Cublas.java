package dev.wudi.cuda;

import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A cuBLAS handle bound to one stream, with the three products the WUDI Gram form needs, each stated in
 * the engine's row-major terms. cuBLAS is column-major: the buffer of a row-major (r, c) matrix X, read
 * column-major with leading dimension c, is X^T (c, r). Each method notes how its row-major product maps
 * onto the column-major call.
 */
public final class Cublas implements AutoCloseable {

    private static CublasNative lib;
    private static CublasHotPath hot;          // the step loop's calls, direct-mapped where JNA can bind them
    private static String hotBinding;
    private static CublasLocator.Location libLocation;
    /** libcublasLt from the same folder, loaded first and held (see {@link #library()}). */
    private static NativeLibrary companion;

    private final CudaDevice device;
    private final Pointer handle;
    private final long handleAddress;
    private final Memory scalars = new Memory(8);   // alpha at 0, beta at 4: host memory for the hot path's scalars
    private final long alphaAddress;
    private final long betaAddress;
    private boolean tf32;
    private boolean closed;

    private Cublas(CudaDevice device, CudaStream stream) {
        this.device = device;
        device.makeCurrent();
        CublasNative l = library();
        PointerByReference h = new PointerByReference();
        CublasStatus.check(l.cublasCreate_v2(h), "cublasCreate_v2", "creating a cuBLAS handle on " + device.name());
        this.handle = h.getValue();
        this.handleAddress = Pointer.nativeValue(handle);
        this.alphaAddress = Pointer.nativeValue(scalars);
        this.betaAddress = alphaAddress + 4;
        CublasStatus.check(l.cublasSetStream_v2(handle, new Pointer(stream.address())), "cublasSetStream_v2",
                "binding cuBLAS to the engine's stream");
        setTf32(false);
    }

    /** A handle whose work runs on {@code stream}. */
    public static Cublas create(CudaDevice device, CudaStream stream) {
        return new Cublas(device, stream);
    }

    /**
     * Loads cuBLAS once per process ({@link CublasLocator#system()}).
     *
     * @throws IllegalStateException naming the file and the fix if it cannot be loaded
     */
    static synchronized CublasNative library() {
        if (lib == null) {
            CublasLocator.Location where = CublasLocator.system().locate();
            try {
                if (where.isFile()) {
                    // libcublas needs libcublasLt of the same version; a folder that is neither on the loader
                    // path nor in libcublas's RUNPATH would leave it unresolved, so load it from there first.
                    Path file = Path.of(where.library());
                    Path lt = file.resolveSibling(file.getFileName().toString().replace("libcublas.", "libcublasLt."));
                    if (Files.isRegularFile(lt)) {
                        companion = NativeLibrary.getInstance(lt.toString());
                    }
                }
                lib = CublasNative.load(where.library());
                libLocation = where;
                try {
                    hot = CublasDirect.bind(NativeLibrary.getInstance(where.library()));
                    hotBinding = "direct";
                } catch (RuntimeException | LinkageError e) {
                    hot = CublasHotPath.of(lib);     // still correct, a few microseconds slower per call
                    hotBinding = "interface (" + e + ")";
                }
            } catch (UnsatisfiedLinkError e) {
                throw new IllegalStateException("cannot load cuBLAS " + where.library() + " (" + where.how() + "): "
                        + e.getMessage() + ". Install cuBLAS (CUDA toolkit, or pip install nvidia-cublas) or set "
                        + CublasLocator.ENV + "=/path/to/libcublas.so.13", e);
            }
        }
        return lib;
    }

    /** Where the loaded cuBLAS came from, or null before the first handle. */
    public static synchronized String loadedFrom() {
        return libLocation == null ? null : libLocation.library() + " (" + libLocation.how() + ")";
    }

    /** How the step loop's calls are bound: "direct" (JNA direct mapping), or why the interface mapping is used. */
    public static synchronized String hotPathBinding() {
        return hotBinding;
    }

    /** cuBLAS's version number (e.g. 130000 for 13.0.0). */
    public int version() {
        IntByReference v = new IntByReference();
        CublasStatus.check(lib.cublasGetVersion_v2(handle(), v), "cublasGetVersion_v2", "reading the cuBLAS version");
        return v.getValue();
    }

    /**
     * fp32 (CUBLAS_DEFAULT_MATH: true float32 products, the faithful default) or tf32
     * (CUBLAS_TF32_TENSOR_OP_MATH: tensor cores with 10-bit mantissas in the products; faster, not
     * bit-faithful to the CPU reference, relative error near 1e-3 instead of 1e-6).
     */
    public void setTf32(boolean on) {
        CublasStatus.check(lib.cublasSetMathMode(handle(), on ? CublasNative.CUBLAS_TF32_TENSOR_OP_MATH
                : CublasNative.CUBLAS_DEFAULT_MATH), "cublasSetMathMode", on ? "enabling TF32" : "selecting fp32 math");
        this.tf32 = on;
    }

    public boolean tf32() {
        return tf32;
    }

    /**
     * out = alpha * a * s + beta * out, row-major: a and out are (rows, cols), s is (cols, cols).
     * The step GEMM P = tau_m C (alpha 1, beta 0) and D += w_i tau_i G_i (alpha w_i, beta 1).
     * Column-major: out^T (cols, rows) = s^T (cols, cols) * a^T (cols, rows), and the buffers of s, a, out
     * read column-major ARE s^T, a^T, out^T; so sgemm(N, N, m = cols, n = rows, k = cols, A = s,
     * lda = cols, B = a, ldb = cols, C = out, ldc = cols). Exact for any s, symmetric or not.
     */
    public void rowMajorTimesSquare(DeviceBuffer a, int rows, int cols, DeviceBuffer s, float alpha, float beta,
                                    DeviceBuffer out, String context) {
        long rc = 4L * rows * cols;
        a.checkRange(rc);
        out.checkRange(rc);
        s.checkRange(4L * cols * cols);
        ensureOpen();
        scalars.setFloat(0, alpha);
        scalars.setFloat(4, beta);
        int status = sgemmRowMajor(hot, handleAddress, a.address(), rows, cols, s.address(), alphaAddress, betaAddress,
                out.address());
        if (status != 0) {
            CublasStatus.check(status, "cublasSgemm_v2", context);
        }
    }

    /**
     * The call behind {@link #rowMajorTimesSquare}, on raw addresses (tested against a fake cuBLAS); alpha and beta
     * are addresses of host floats.
     */
    static int sgemmRowMajor(CublasHotPath l, long h, long a, int rows, int cols, long s, long alpha, long beta, long out) {
        return l.sgemm(h, CublasNative.CUBLAS_OP_N, CublasNative.CUBLAS_OP_N, cols, rows, cols, alpha, s, cols, a, cols,
                beta, out, cols);
    }

    /**
     * The upper triangle (column-major; G[i + j*cols] for i <= j) of the Gram matrix G = tau^T tau
     * (cols, cols) of a row-major (rows, cols) tau. Column-major: the buffer of tau is T = tau^T (cols, rows),
     * and T T^T = tau^T tau; so ssyrk(UPPER, N, n = cols, k = rows, A = tau, lda = cols, beta 0, C = g,
     * ldc = cols). The other triangle is left as it was: run WudiKernels.symmetrizeFromUpper next.
     */
    public void gramUpper(DeviceBuffer tau, int rows, int cols, DeviceBuffer g, String context) {
        tau.checkRange(4L * rows * cols);
        g.checkRange(4L * cols * cols);
        CublasStatus.check(syrkUpperRowMajor(lib, handle(), tau.address(), rows, cols, g.address()), "cublasSsyrk_v2", context);
    }

    /** The call behind {@link #gramUpper}, on raw addresses (tested against a fake cuBLAS). */
    static int syrkUpperRowMajor(CublasNative l, Pointer h, long tau, int rows, int cols, long g) {
        return l.cublasSsyrk_v2(h, CublasNative.CUBLAS_FILL_MODE_UPPER, CublasNative.CUBLAS_OP_N, cols, rows,
                new float[] {1f}, new Pointer(tau), cols, new float[] {0f}, new Pointer(g), cols);
    }

    /**
     * out = alpha op(a) op(b) + beta out, all row-major: op(a) is (m, k), op(b) is (k, n), out is (m, n); a is
     * stored (k, m) when transA, b is stored (n, k) when transB. Used by the spectral solvers' [rows, r] panels.
     * Column-major: out^T (n, m) = op(b)^T op(a)^T, and the buffer of a row-major matrix read column-major is its
     * transpose; so sgemm(opB, opA, n, m, k, B = b, ldb = transB ? k : n, A = a, lda = transA ? m : k, C = out,
     * ldc = n), where opX is N for an untransposed row-major X and T for a transposed one.
     */
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, DeviceBuffer a, DeviceBuffer b,
                     float beta, DeviceBuffer out, String context) {
        a.checkRange(4L * m * k);
        b.checkRange(4L * k * n);
        out.checkRange(4L * m * n);
        CublasStatus.check(sgemmGeneral(lib, handle(), transA, transB, m, n, k, alpha, a.address(), b.address(), beta,
                out.address()), "cublasSgemm_v2", context);
    }

    /** The call behind {@link #gemm}, on raw addresses. */
    static int sgemmGeneral(CublasNative l, Pointer h, boolean transA, boolean transB, int m, int n, int k, float alpha,
                            long a, long b, float beta, long out) {
        return l.cublasSgemm_v2(h, transB ? CublasNative.CUBLAS_OP_T : CublasNative.CUBLAS_OP_N,
                transA ? CublasNative.CUBLAS_OP_T : CublasNative.CUBLAS_OP_N, n, m, k, new float[] {alpha},
                new Pointer(b), transB ? k : n, new Pointer(a), transA ? m : k, new float[] {beta}, new Pointer(out), n);
    }

    /** y += alpha x over n floats (layout-free). Chunked, since cublasSaxpy_v2 counts in int. */
    public void axpy(long n, float alpha, DeviceBuffer x, DeviceBuffer y, String context) {
        x.checkRange(4 * n);
        y.checkRange(4 * n);
        ensureOpen();
        scalars.setFloat(0, alpha);
        final long chunk = 1L << 30;
        for (long off = 0; off < n; off += chunk) {
            int len = (int) Math.min(chunk, n - off);
            int status = hot.saxpy(handleAddress, len, alphaAddress, x.address() + 4 * off, 1, y.address() + 4 * off, 1);
            if (status != 0) {
                CublasStatus.check(status, "cublasSaxpy_v2", context);
            }
        }
    }

    private Pointer handle() {
        ensureOpen();
        device.makeCurrent();
        return handle;
    }

    /**
     * The hot path (the step's product, saxpy) does not make the device current: the engine's thread made it current
     * when it began the solve, and a context switch per call would cost as much as the call.
     */
    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("cuBLAS handle is closed");
        }
    }

    @Override
    public void close() {
        if (!closed) {
            device.makeCurrent();
            closed = true;
            CublasStatus.check(lib.cublasDestroy_v2(handle), "cublasDestroy_v2", "releasing the cuBLAS handle");
            scalars.close();
        }
    }
}
