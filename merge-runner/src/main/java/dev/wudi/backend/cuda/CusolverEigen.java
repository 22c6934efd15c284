package dev.wudi.backend.cuda;

import dev.wudi.cuda.Cusolver;
import dev.wudi.cuda.DeviceBuffer;
import dev.wudi.solver.spectral.SymmetricEigen;

/**
 * C = V diag(lambda) V^T on the GPU with cuSOLVER's divide and conquer in double (cusolverDnDsyevd), the
 * counterpart of {@link dev.wudi.solver.spectral.LapackEigen}'s dsyevd: C is widened on the host, uploaded,
 * decomposed in place and read back; cuSOLVER's ascending order is turned into the interface's descending one.
 * Device memory: the n x n doubles of C/V and cuSOLVER's workspace, for the call only.
 */
final class CusolverEigen implements SymmetricEigen {

    private final Cusolver cusolver;
    private final TensorMemory memory;

    CusolverEigen(Cusolver cusolver, TensorMemory memory) {
        this.cusolver = cusolver;
        this.memory = memory;
    }

    @Override
    public String name() {
        return "cusolver-dsyevd";
    }

    @Override
    public EigenPairs decompose(float[] c, int n) {
        if (n <= 0 || c.length != (long) n * n) {
            throw new IllegalArgumentException("expected an [" + n + ", " + n + "] matrix, got " + c.length + " values");
        }
        double[] a = new double[c.length];
        for (int i = 0; i < c.length; i++) {
            a[i] = c[i];   // column-major reading of a row-major C is C^T = C (C is exactly symmetric)
        }
        double[] w = new double[n];
        try (DeviceBuffer da = memory.alloc(8L * n * n, "C in double for cuSOLVER");
             DeviceBuffer dw = memory.alloc(8L * n, "eigenvalues")) {
            da.upload(a);
            cusolver.symmetricEigen(da, n, dw, "eigendecomposition of C of " + memory.label());
            da.download(a);
            dw.download(w);
        }
        // ascending, vectors as columns of a column-major V  ->  descending, row-major V (column j for values[j])
        double[] values = new double[n];
        double[] vectors = new double[a.length];
        for (int j = 0; j < n; j++) {
            int from = n - 1 - j;
            values[j] = w[from];
            for (int i = 0; i < n; i++) {
                vectors[i * n + j] = a[from * n + i];
            }
        }
        return new EigenPairs(n, values, vectors);
    }
}
