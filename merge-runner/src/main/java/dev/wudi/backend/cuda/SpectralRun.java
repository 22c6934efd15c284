package dev.wudi.backend.cuda;

import dev.wudi.solver.WudiResult;
import dev.wudi.cuda.Cublas;
import dev.wudi.cuda.CudaStream;
import dev.wudi.cuda.DeviceBuffer;
import dev.wudi.cuda.WudiKernels;
import dev.wudi.solver.spectral.SpectralFilter;
import dev.wudi.solver.spectral.SymmetricEigen;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One spectral solve of specification 2.3 on the GPU, from the Gram form a {@link CudaWudiProblem} accumulated; the
 * formula of {@link dev.wudi.solver.spectral.SpectralSolver} on the CPU:
 * <pre>
 *   C = V diag(lambda) V^T            cuSOLVER dsyevd ({@link CusolverEigen}), or LAPACK on the host without it
 *   a, b = filter(lambda)             on the host: SpectralFilter.coefficients, the CPU's code
 *   M   = D (V_r diag(b)) - tau0 (V_r diag(a))    [rows, r]  two cuBLAS GEMMs
 *   tau = keep * tau0 + M V_r^T                    [rows, cols] one cuBLAS GEMM
 *   L(tau0), L(tau): P = tau C, then the InterferenceLoss reduction, + K
 * </pre>
 * The diagonal factors are folded into copies of V_r on the host (r columns of cols numbers) rather than applied
 * to the [rows, r] panels as the CPU does, so no scaling kernel is needed; the two differ by float32 rounding only.
 */
final class SpectralRun implements AutoCloseable {

    private final CudaBackend backend;
    private final TensorMemory memory;
    private final AdamRun.GramForm form;
    private final PinnedStage stage;
    private final DeviceMerge.Request merge;
    private final List<AutoCloseable> resources = new ArrayList<>();
    private ByteBuffer merged;

    /** @param form a Gram form the host has waited for (its {@code ready} event has passed) */
    SpectralRun(CudaBackend backend, TensorMemory memory, AdamRun.GramForm form, DeviceMerge.Request merge) {
        this.backend = backend;
        this.memory = memory;
        this.form = form;
        this.stage = backend.stage();
        this.merge = merge;
    }

    private DeviceBuffer alloc(long bytes, String what) {
        DeviceBuffer b = memory.alloc(bytes, what);
        resources.add(b);
        return b;
    }

    /** Solves with {@code filter}, the eigendecomposition by {@code eigen}; blocks until the result is on the host. */
    WudiResult solve(SpectralFilter filter, SymmetricEigen eigen) {
        long t0 = System.nanoTime();
        int rows = form.rows();
        int cols = form.cols();
        long n = (long) rows * cols;
        String what = memory.label();
        CudaStream compute = backend.computeStream();
        Cublas cublas = backend.cublas();
        WudiKernels kernels = backend.kernels();
        backend.device().makeCurrent();
        cublas.setTf32(false);

        float[] c = new float[cols * cols];
        stage.download(form.c(), c, compute);
        SymmetricEigen.EigenPairs e = eigen.decompose(c, cols);
        long t1 = System.nanoTime();
        SpectralFilter.Coefficients co = filter.coefficients(e);
        int r = co.used();

        DeviceBuffer tau = alloc(4 * n, "the spectral solution");
        if (co.keepSum()) {
            tau.copyFromAsync(form.sum(), 4 * n, compute);
        } else {
            tau.zeroAsync(4 * n, compute);
        }
        if (r > 0) {
            float[] vr = new float[cols * r];   // V_r [cols, r], the r leading eigenvectors as columns
            float[] vb = new float[cols * r];   // V_r diag(b)
            float[] va = new float[cols * r];   // V_r diag(a)
            double[] v = e.vectors();
            for (int i = 0; i < cols; i++) {
                for (int j = 0; j < r; j++) {
                    float x = (float) v[i * cols + j];
                    vr[i * r + j] = x;
                    vb[i * r + j] = (float) (co.b()[j] * x);
                    va[i * r + j] = (float) (co.a()[j] * x);
                }
            }
            DeviceBuffer dvr = alloc(4L * cols * r, "V_r");
            DeviceBuffer dvb = alloc(4L * cols * r, "V_r diag(b)");
            DeviceBuffer m = alloc(4L * rows * r, "M = D V_r diag(b) - tau0 V_r diag(a)");
            dvr.upload(vr);
            dvb.upload(vb);
            String ctx = "spectral solve of " + what;
            cublas.gemm(false, false, rows, r, cols, 1f, form.d(), dvb, 0f, m, ctx);             // M = D V_r diag(b)
            if (co.keepSum()) {
                DeviceBuffer dva = alloc(4L * cols * r, "V_r diag(a)");
                dva.upload(va);
                cublas.gemm(false, false, rows, r, cols, -1f, form.sum(), dva, 1f, m, ctx);     // M -= tau0 V_r diag(a)
            }
            cublas.gemm(false, true, rows, cols, r, 1f, m, dvr, 1f, tau, ctx);                 // tau += M V_r^T
        }

        // L at tau0 and at tau (specification 2.2): P = x C, then sum (P - 2D) x, + K
        DeviceBuffer p = alloc(4 * n, "P = tau C");
        DeviceBuffer partials = alloc(WudiKernels.PARTIALS_BYTES, "loss partials");
        DeviceBuffer losses = alloc(16, "losses");
        DeviceBuffer[] at = {form.sum(), tau};
        for (int s = 0; s < 2; s++) {
            cublas.rowMajorTimesSquare(at[s], rows, cols, form.c(), 1f, 0f, p, "loss of " + what);
            int parts = kernels.interferenceLossPartials(p, form.d(), at[s], n, partials, compute);
            kernels.reducePartials(partials, parts, losses, s, compute);
        }
        double[] loss = new double[2];
        compute.synchronize("spectral solve of " + what);
        losses.download(loss);

        float[] tauHost;
        if (merge != null) {
            DeviceBuffer half = merge.out().bytes() == 2 ? alloc(2 * n, "the merged weight, 16-bit") : null;
            DeviceBuffer out = DeviceMerge.enqueue(kernels, cublas, merge, tau, p, half, n, compute, what);
            ByteBuffer bytes = ByteBuffer.allocate(Math.toIntExact(merge.outBytes(n))).order(ByteOrder.LITTLE_ENDIAN);
            stage.download(out, bytes, compute);
            merged = bytes.flip();
            tauHost = new float[0];
        } else {
            tauHost = new float[(int) n];
            stage.download(tau, tauHost, compute);
        }
        double k = form.k().getAsDouble();
        return new WudiResult(tauHost, loss[0] + k, loss[1] + k, 0, Map.of(
                "filter_param", co.param(), "rank_used", (double) r, "eigen_seconds", (t1 - t0) / 1e9));
    }

    /** W_0 + tau in the requested dtype, after a solve made with a merge request; else null. */
    ByteBuffer merged() {
        return merged;
    }

    @Override
    public void close() {
        backend.device().makeCurrent();
        backend.computeStream().synchronize("freeing the spectral solve of " + memory.label());
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception ignored) {
                // freeing is best effort once something already failed
            }
        }
        resources.clear();
    }
}
