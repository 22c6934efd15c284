package dev.wudi.method;

import dev.wudi.solver.WudiResult;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.model.Layout;
import dev.wudi.solver.GramForm;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Any method's merge of a weight WUDI would take, scored with WUDI's interference loss (specification 2.2, paper eq. 8):
 *
 * <pre>
 *   L(tau_m) = sum_i 1/||tau_i||^2 ||(tau_m - tau_i) tau_i^T||_F^2
 * </pre>
 *
 * before: at tau_m = sum_i tau_i (task arithmetic at scale 1, WUDI's starting point, the same for every method), and
 * after: at the method's own tau_m = W_merged - W_0. A report of TIES or DARE then reads like one of WUDI, and the
 * loss of two reports compares. The method's output is captured as it is written (float32, before rounding to the
 * output dtype, as WUDI's own loss after is), the task vectors are read again and folded into a {@link GramForm}
 * (the same form, and so the same numbers, as WUDI's), one matrix at a time (experts, Conv1D turned to [out, in]).
 * What the method wrote is unchanged.
 */
public final class InterferenceScore implements TensorRule {

    private final TensorRule method;

    public InterferenceScore(TensorRule method) {
        this.method = method;
    }

    @Override
    public String label() {
        return method.label();
    }

    /** Whether the loss is defined on this tensor as WUDI would see it (a matrix of its layout, one Java array). */
    public static boolean applies(long[] shape, Layout layout, int models) {
        if (models == 0 || shape.length < 2 || layout == Layout.VECTOR || !layout.fits(shape.length)) {
            return false;
        }
        Layout.Matrices m = layout.matrices(shape);
        long numel = m.count() * m.size();
        return numel > 0 && numel <= Integer.MAX_VALUE - 8 && m.cols() * m.cols() <= Integer.MAX_VALUE - 8;
    }

    /**
     * Estimated flops of scoring one tensor: per task vector its Gram matrix (the smaller side) and its part of C
     * and D, then two products tau_m C for the two losses.
     */
    public static double flops(long[] shape, Layout layout, int models) {
        Layout.Matrices m = layout.matrices(shape);
        double rows = m.rows();
        double cols = m.cols();
        double small = Math.min(rows, cols);
        return m.count() * 2 * rows * cols * (models * (cols + 2 * small) + 2 * cols);
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        float[] merged = new float[Math.toIntExact(job.numel())];
        Capture capture = new Capture(sink, merged);
        TensorOutcome outcome = method.apply(job, capture);
        if (capture.raw || capture.filled != merged.length) {
            return outcome;                              // not float32 values as written: nothing to score
        }
        Layout.Matrices m = job.layout().matrices(job.info().shape());
        int rows = Math.toIntExact(m.rows());
        int cols = Math.toIntExact(m.cols());
        int size = rows * cols;
        long[] stored = m.transposed() ? new long[] {cols, rows} : new long[] {rows, cols};
        float[] w0 = new float[size];
        float[] tau = new float[size];
        float[] scratch = m.transposed() ? new float[size] : null;
        double before = 0;
        double after = 0;
        for (long e = 0; e < m.count(); e++) {
            long first = e * m.size();
            TensorRef base = job.base().slice(first, stored);
            try (GramForm gram = new GramForm(rows, cols)) {
                WudiRule.readPaperOrientation(base, rows, cols, m.transposed(), scratch, w0);
                for (TensorRef model : job.models()) {
                    TensorRef part = model.slice(first, stored);
                    TensorRef delta = model == job.base() ? null : part.deltaOver(base);
                    if (model == job.base()) {
                        java.util.Arrays.fill(tau, 0f);      // an adapter that leaves this weight alone
                    } else if (delta != null) {
                        WudiRule.readPaperOrientation(delta, rows, cols, m.transposed(), scratch, tau);  // s B A
                    } else {
                        WudiRule.readPaperOrientation(part, rows, cols, m.transposed(), scratch, tau);
                        for (int j = 0; j < size; j++) {
                            tau[j] -= w0[j];                 // tau_i = W_i - W_0 in float32, as WUDI forms it
                        }
                    }
                    try {
                        gram.add(tau);
                    } catch (IllegalArgumentException nonFinite) {
                        return outcome;                  // NaN or Inf let through (--allow-non-finite): no loss
                    }
                }
                before += gram.loss(gram.sum().toArray());   // L(sum_i tau_i)
                float[] tauM = tau;
                int at = Math.toIntExact(first);
                if (m.transposed()) {
                    Transpose.of(java.util.Arrays.copyOfRange(merged, at, at + size), cols, rows, tauM);
                } else {
                    System.arraycopy(merged, at, tauM, 0, size);
                }
                for (int j = 0; j < size; j++) {
                    tauM[j] -= w0[j];                        // the method's tau_m = W_merged - W_0
                }
                after += gram.loss(tauM);                    // L(tau_m)
            }
        }
        return new TensorOutcome(WudiResult.nonNegative(before), WudiResult.nonNegative(after), outcome.details(),
                outcome.zeroTaskVectors(), outcome.lowRank());
    }

    /** Passes every write on and keeps a float32 copy of the values. */
    private static final class Capture implements TensorSink {
        private final TensorSink sink;
        private final float[] values;
        int filled;
        boolean raw;

        Capture(TensorSink sink, float[] values) {
            this.sink = sink;
            this.values = values;
        }

        @Override
        public void writeFloats(float[] src, int off, int count) throws IOException {
            sink.writeFloats(src, off, count);
            int n = Math.min(count, values.length - filled);
            System.arraycopy(src, off, values, filled, n);
            filled += count;
        }

        @Override
        public void writeRaw(ByteBuffer b) throws IOException {
            raw = true;
            sink.writeRaw(b);
        }
    }
}
