package dev.wudi.solver.spectral;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.EigenDecomposition;
import org.apache.commons.math3.linear.RealMatrix;

/**
 * The WUDI problem in double precision with Commons Math, straight from the definitions (specification 2.2):
 * the oracle the float32 spectral solvers are checked against.
 */
final class Reference {

    final int rows;
    final int cols;
    final RealMatrix c;
    final RealMatrix d;
    final RealMatrix tau0;

    Reference(int rows, int cols, List<float[]> taus) {
        this.rows = rows;
        this.cols = cols;
        RealMatrix cc = new Array2DRowRealMatrix(cols, cols);
        RealMatrix dd = new Array2DRowRealMatrix(rows, cols);
        RealMatrix sum = new Array2DRowRealMatrix(rows, cols);
        for (float[] t : taus) {
            RealMatrix m = matrix(t, rows, cols);
            double w = 1 / Math.pow(m.getFrobeniusNorm(), 2);
            RealMatrix g = m.transpose().multiply(m);
            cc = cc.add(g.scalarMultiply(w));
            dd = dd.add(m.multiply(g).scalarMultiply(w));
            sum = sum.add(m);
        }
        this.c = cc;
        this.d = dd;
        this.tau0 = sum;
    }

    static RealMatrix matrix(float[] a, int rows, int cols) {
        RealMatrix m = new Array2DRowRealMatrix(rows, cols);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                m.setEntry(i, j, a[i * cols + j]);
            }
        }
        return m;
    }

    /** n task vectors [rows, cols], each of rank k (rows in a random k-dim subspace), entries ~ scale. */
    static List<float[]> lowRankTasks(long seed, int n, int rows, int cols, int k, double scale) {
        Random r = new Random(seed);
        List<float[]> out = new ArrayList<>();
        for (int t = 0; t < n; t++) {
            double[][] a = new double[rows][k];
            double[][] b = new double[k][cols];
            for (double[] row : a) {
                for (int j = 0; j < k; j++) {
                    row[j] = r.nextGaussian();
                }
            }
            for (double[] row : b) {
                for (int j = 0; j < cols; j++) {
                    row[j] = r.nextGaussian();
                }
            }
            float[] tau = new float[rows * cols];
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    double s = 0;
                    for (int q = 0; q < k; q++) {
                        s += a[i][q] * b[q][j];
                    }
                    tau[i * cols + j] = (float) (s * scale / Math.sqrt(k));
                }
            }
            out.add(tau);
        }
        return out;
    }

    /** C's eigenpairs in double, descending, from Commons Math. */
    EigenDecomposition eigen() {
        return new EigenDecomposition(c);
    }

    /** tau0 - tau0 V diag(a) V^T + D V diag(b) V^T with a = f(lambda), b = g(lambda), over eigenvalues above tol. */
    RealMatrix filtered(java.util.function.DoubleUnaryOperator a, java.util.function.DoubleUnaryOperator b,
                        boolean keep, int rank) {
        EigenDecomposition e = eigen();
        double[] lam = e.getRealEigenvalues();
        Integer[] order = new Integer[cols];
        for (int i = 0; i < cols; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (x, y) -> Double.compare(lam[y], lam[x]));
        double tol = lam[order[0]] * cols * 0x1p-23;
        RealMatrix out = keep ? tau0.copy() : new Array2DRowRealMatrix(rows, cols);
        int limit = rank == 0 ? cols : rank;
        for (int q = 0; q < limit; q++) {
            int j = order[q];
            if (lam[j] <= tol) {
                break;
            }
            RealMatrix v = e.getV().getColumnMatrix(j);
            RealMatrix proj = d.multiply(v).scalarMultiply(b.applyAsDouble(lam[j]))
                    .subtract(tau0.multiply(v).scalarMultiply(a.applyAsDouble(lam[j])));
            out = out.add(proj.multiply(v.transpose()));
        }
        return out;
    }

    double loss(RealMatrix tau) {
        // L = <tau C, tau> - 2 <tau, D> + K; K is the same for every tau, so compare differences only
        double acc = 0;
        RealMatrix p = tau.multiply(c);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                acc += (p.getEntry(i, j) - 2 * d.getEntry(i, j)) * tau.getEntry(i, j);
            }
        }
        return acc;
    }

    /** max |got - want| / max |want|. */
    static double relErr(float[] got, RealMatrix want) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < want.getRowDimension(); i++) {
            for (int j = 0; j < want.getColumnDimension(); j++) {
                double w = want.getEntry(i, j);
                num = Math.max(num, Math.abs(got[i * want.getColumnDimension() + j] - w));
                den = Math.max(den, Math.abs(w));
            }
        }
        return num / den;
    }
}
