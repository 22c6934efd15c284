package dev.wudi.linalg;

import java.nio.DoubleBuffer;
import java.util.function.ToIntFunction;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.openblas.global.openblas;

/**
 * The leading eigenpairs of a symmetric float32 matrix, computed in place and only as many as asked for:
 *
 * <ol>
 * <li>C = Q T Q^T, T tridiagonal (LAPACK ssytrd, in place: C's storage then holds Q's Householder reflectors);</li>
 * <li>every eigenvalue of T (ssterf on copies of its diagonals, O(n^2)): the caller decides from the whole
 *     spectrum how many leading eigenpairs it needs;</li>
 * <li>the eigenvectors of T for those k only (sstemr, MRRR: O(n k));</li>
 * <li>back to C's basis: Z = Q Z (sormtr, 2 n^2 k flops).</li>
 * </ol>
 *
 * Against a full divide-and-conquer decomposition (ssyevd/dsyevd), which needs C, the eigenvectors in place of C
 * and a workspace of 2 n^2: this holds C and the k eigenvectors only (2 n^2 floats at most, against 3 n^2 floats
 * or 3 n^2 doubles plus LAPACKE's row-major transpose), and the back-transformation costs k/n of the full one.
 * Column-major calls on a symmetric matrix read the same matrix as row-major ones, with no transposed copy.
 * {@link #decompose} works in float32 on {@link NativeFloats}, {@link #decomposeDouble} in double (dsytrd, dsterf,
 * dstemr, dormtr) on a {@link DoublePointer}.
 */
public final class SelectedEigenpairs implements AutoCloseable {

    static {
        OpenBlasEnvironment.prepare();                  // before openblas loads and reads its environment
    }

    private final int n;
    private final double[] values;
    private final int k;
    private NativeFloats vectors;
    private DoublePointer doubleVectors;
    private final double seconds;

    private SelectedEigenpairs(int n, double[] values, int k, NativeFloats vectors, DoublePointer doubleVectors,
                               double seconds) {
        this.n = n;
        this.values = values;
        this.k = k;
        this.vectors = vectors;
        this.doubleVectors = doubleVectors;
        this.seconds = seconds;
    }

    /**
     * Decomposes the symmetric [n, n] matrix c (both triangles equal; overwritten: close it afterwards, it holds
     * reflectors) and computes the eigenvectors of the {@code choose.applyAsInt(values)} largest eigenvalues.
     *
     * @param choose from all n eigenvalues in descending order, how many leading eigenpairs are needed (0..n)
     * @throws ArithmeticException if LAPACK reports a failure (a non-finite C, or MRRR not converging)
     */
    public static SelectedEigenpairs decompose(NativeFloats c, int n, ToIntFunction<double[]> choose) {
        if (n <= 0 || c.length() != (long) n * n) {
            throw new IllegalArgumentException("expected an [" + n + ", " + n + "] matrix, got " + c.length() + " values");
        }
        long t0 = System.nanoTime();
        try (FloatPointer diag = new FloatPointer(n); FloatPointer off = new FloatPointer(n);
             FloatPointer reflectors = new FloatPointer(Math.max(1, n - 1))) {
            off.zero();
            // C = Q T Q^T (column-major, lower triangle: the row-major upper one, the same numbers for a symmetric C)
            check(openblas.LAPACKE_ssytrd(openblas.LAPACK_COL_MAJOR, (byte) 'L', n, c.pointer(), n, diag, off,
                    reflectors), "ssytrd", n);
            double[] values = new double[n];
            try (FloatPointer d2 = new FloatPointer(n); FloatPointer e2 = new FloatPointer(n)) {
                copy(diag, d2, n);
                copy(off, e2, n);
                check(openblas.LAPACKE_ssterf(n, d2, e2), "ssterf", n);           // ascending
                for (int j = 0; j < n; j++) {
                    values[j] = d2.get(n - 1 - j);
                }
            }
            int k = chosen(choose, values);
            if (k == 0) {
                return new SelectedEigenpairs(n, values, 0, null, null, (System.nanoTime() - t0) / 1e9);
            }
            NativeFloats z = new NativeFloats(k * n);
            try (IntPointer found = new IntPointer(1); IntPointer support = new IntPointer(2L * k);
                 IntPointer tryrac = new IntPointer(1); FloatPointer w = new FloatPointer(n)) {
                tryrac.put(1);                          // ask for high relative accuracy where T allows it
                // the eigenvectors of T for eigenvalues il..iu (1-based, ascending): the k largest
                check(openblas.LAPACKE_sstemr(openblas.LAPACK_COL_MAJOR, (byte) 'V', (byte) 'I', n, diag, off, 0f, 0f,
                        n - k + 1, n, found, w, z.pointer(), n, k, support, tryrac), "sstemr", n);
                if (found.get() != k) {
                    throw new ArithmeticException("LAPACK sstemr returned " + found.get() + " of the " + k
                            + " eigenpairs asked for, on an [" + n + ", " + n + "] matrix");
                }
                // Z = Q Z: each column an eigenvector of C
                check(openblas.LAPACKE_sormtr(openblas.LAPACK_COL_MAJOR, (byte) 'L', (byte) 'L', (byte) 'N', n, k,
                        c.pointer(), n, reflectors, z.pointer(), n), "sormtr", n);
                reverseRows(z, k, n);                   // ascending -> descending, as values
            } catch (RuntimeException ex) {
                z.close();
                throw ex;
            }
            return new SelectedEigenpairs(n, values, k, z, null, (System.nanoTime() - t0) / 1e9);
        }
    }

    /**
     * As {@link #decompose} in double on the symmetric [n, n] matrix c (both triangles equal; overwritten): for the
     * exact minimiser, which divides by eigenvalues that only double resolves. The eigenvectors are
     * {@link #vectorsTDouble()}.
     */
    public static SelectedEigenpairs decomposeDouble(DoublePointer c, int n, ToIntFunction<double[]> choose) {
        if (n <= 0 || c.capacity() < (long) n * n) {
            throw new IllegalArgumentException("expected an [" + n + ", " + n + "] matrix, got " + c.capacity() + " values");
        }
        long t0 = System.nanoTime();
        try (DoublePointer diag = new DoublePointer(n); DoublePointer off = new DoublePointer(n);
             DoublePointer reflectors = new DoublePointer(Math.max(1, n - 1))) {
            off.zero();
            check(openblas.LAPACKE_dsytrd(openblas.LAPACK_COL_MAJOR, (byte) 'L', n, c, n, diag, off, reflectors),
                    "dsytrd", n);
            double[] values = new double[n];
            try (DoublePointer d2 = new DoublePointer(n); DoublePointer e2 = new DoublePointer(n)) {
                for (int i = 0; i < n; i++) {
                    d2.put(i, diag.get(i));
                    e2.put(i, off.get(i));
                }
                check(openblas.LAPACKE_dsterf(n, d2, e2), "dsterf", n);           // ascending
                for (int j = 0; j < n; j++) {
                    values[j] = d2.get(n - 1 - j);
                }
            }
            int k = chosen(choose, values);
            if (k == 0) {
                return new SelectedEigenpairs(n, values, 0, null, null, (System.nanoTime() - t0) / 1e9);
            }
            DoublePointer z = new DoublePointer((long) k * n);
            try (IntPointer found = new IntPointer(1); IntPointer support = new IntPointer(2L * k);
                 IntPointer tryrac = new IntPointer(1); DoublePointer w = new DoublePointer(n)) {
                tryrac.put(1);
                check(openblas.LAPACKE_dstemr(openblas.LAPACK_COL_MAJOR, (byte) 'V', (byte) 'I', n, diag, off, 0, 0,
                        n - k + 1, n, found, w, z, n, k, support, tryrac), "dstemr", n);
                if (found.get() != k) {
                    throw new ArithmeticException("LAPACK dstemr returned " + found.get() + " of the " + k
                            + " eigenpairs asked for, on an [" + n + ", " + n + "] matrix");
                }
                check(openblas.LAPACKE_dormtr(openblas.LAPACK_COL_MAJOR, (byte) 'L', (byte) 'L', (byte) 'N', n, k,
                        c, n, reflectors, z, n), "dormtr", n);
                DoubleBuffer b = z.asBuffer();
                double[] row = new double[n];
                double[] other = new double[n];
                for (int j = 0, l = k - 1; j < l; j++, l--) {     // ascending -> descending, as values
                    b.get(j * n, row);
                    b.get(l * n, other);
                    b.put(j * n, other);
                    b.put(l * n, row);
                }
            } catch (RuntimeException ex) {
                z.close();
                throw ex;
            }
            return new SelectedEigenpairs(n, values, k, null, z, (System.nanoTime() - t0) / 1e9);
        }
    }

    private static int chosen(ToIntFunction<double[]> choose, double[] values) {
        int n = values.length;
        int k = choose.applyAsInt(values.clone());
        if (k < 0 || k > n) {
            throw new IllegalArgumentException("asked for " + k + " eigenpairs of an [" + n + ", " + n + "] matrix");
        }
        return k;
    }

    /** The order of the matrix. */
    public int n() {
        return n;
    }

    /** All n eigenvalues (of the tridiagonal form, ssterf), descending. */
    public double[] values() {
        return values;
    }

    /** How many eigenvectors were computed: those of values[0..k-1]. */
    public int k() {
        return k;
    }

    /**
     * V_k^T, row-major [k, n]: row j is the unit eigenvector of values[j]. Owned by this object (null when k = 0).
     */
    public NativeFloats vectorsT() {
        if (k > 0 && vectors == null) {  // closed, or a double decomposition
            throw new IllegalStateException("eigenvectors used after close()");
        }
        return vectors;
    }

    /** As {@link #vectorsT()} for {@link #decomposeDouble}: row-major [k, n] doubles, owned by this object. */
    public DoublePointer vectorsTDouble() {
        if (k > 0 && doubleVectors == null) {
            throw new IllegalStateException("no double eigenvectors (float32 decomposition, or used after close())");
        }
        return doubleVectors;
    }

    /** Wall time of the decomposition. */
    public double seconds() {
        return seconds;
    }

    @Override
    public void close() {
        if (vectors != null) {
            vectors.close();
            vectors = null;
        }
        if (doubleVectors != null) {
            doubleVectors.close();
            doubleVectors = null;
        }
    }

    private static void copy(FloatPointer from, FloatPointer to, int n) {
        for (int i = 0; i < n; i++) {
            to.put(i, from.get(i));
        }
    }

    /** Column-major [n, k] is row-major [k, n]; swaps rows j and k-1-j. */
    private static void reverseRows(NativeFloats z, int k, int n) {
        java.nio.FloatBuffer b = z.buffer();
        float[] row = new float[n];
        float[] other = new float[n];
        for (int j = 0, l = k - 1; j < l; j++, l--) {
            b.get(j * n, row);
            b.get(l * n, other);
            b.put(j * n, other);
            b.put(l * n, row);
        }
    }

    private static void check(int info, String routine, int n) {
        if (info != 0) {
            throw new ArithmeticException("LAPACK " + routine + " failed on an [" + n + ", " + n + "] matrix (info "
                    + info + (info < 0 ? ": illegal argument " + (-info) + ", or a NaN in the input" : ": did not converge")
                    + ")");
        }
    }
}
