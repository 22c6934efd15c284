package dev.wudi.solver.spectral;

/**
 * The symmetric eigendecomposition C = V diag(lambda) V^T that every spectral solver starts from. The CPU
 * implementation is LAPACK's divide and conquer ({@link LapackEigen}); a GPU backend can supply cuSOLVER's
 * syevd behind the same interface.
 */
public interface SymmetricEigen {

    /** Short name for reports: "lapack-dsyevd". */
    String name();

    /**
     * Decomposes the symmetric [n, n] matrix c (row-major; only the upper triangle is read, the array is
     * not modified).
     *
     * @return the n eigenpairs, eigenvalues in descending order
     * @throws ArithmeticException if the decomposition does not converge
     */
    EigenPairs decompose(float[] c, int n);

    /**
     * Eigenvalues in descending order and the matching orthonormal eigenvectors: vectors is row-major
     * [n, n] and column j (vectors[i * n + j], i = 0..n-1) belongs to values[j].
     */
    record EigenPairs(int n, double[] values, double[] vectors) {

        public EigenPairs {
            if (values.length != n || vectors.length != (long) n * n) {
                throw new IllegalArgumentException("eigenpairs of an [" + n + ", " + n + "] matrix need " + n
                        + " values and " + ((long) n * n) + " vector entries");
            }
        }

        /** Largest eigenvalue (0 for an empty spectrum). */
        public double max() {
            return n == 0 ? 0.0 : values[0];
        }

        /** Sum of the eigenvalues, i.e. trace(C). */
        public double trace() {
            double s = 0;
            for (double v : values) {
                s += v;
            }
            return s;
        }
    }
}
