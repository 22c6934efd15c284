package dev.wudi.merge;

import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.lora.LoraAdapter;
import dev.wudi.method.TensorCopy;
import dev.wudi.method.TensorJob;
import dev.wudi.method.TensorSink;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;

/**
 * Why a computed tensor came out non-finite, in one clause for the error line: the output dtype's range, an
 * overflowing weight, normalised weights that cancel, an adapter's scaling, or inputs near the float32 range. Reads
 * the tensor's inputs once more (only after a failure) for their largest magnitudes.
 */
final class NonFiniteCause {

    /** Largest finite float32. */
    private static final double F32_MAX = Float.MAX_VALUE;

    private NonFiniteCause() {
    }

    /** The failure as one line: the tensor and its shape, the rule, the value and where, the likely cause. */
    static NonFiniteResult described(NonFiniteResult e, long[] shape, String rule, TensorJob job,
                                     List<LoraAdapter> adapters) {
        return e.withMessage("tensor " + job.name() + " " + java.util.Arrays.toString(shape) + ": the " + rule
                + " merge gives " + e.value() + " at element " + e.element() + "; likely cause: "
                + explain(e, job, adapters) + "; no model holding it is written");
    }

    static String explain(NonFiniteResult r, TensorJob job, List<LoraAdapter> adapters) {
        DType out = job.outDType();
        if (Float.isFinite(r.value())) {
            return "the value " + String.format(Locale.ROOT, "%.6g", r.value()) + " does not fit " + out
                    + " (largest finite " + (out == DType.F16 ? "65504" : "3.39e38") + "); --dtype f32 keeps it";
        }
        double base = maxAbs(job.base());
        double tau = 0;
        double inputs = base;
        for (TensorRef m : job.models()) {
            double mm = maxAbs(m);
            inputs = Math.max(inputs, mm);
            tau = Math.max(tau, mm + base);
        }
        int n = job.taskCount();
        double sumW = 0;
        double sumAbsW = 0;
        double maxW = 0;
        boolean weighted = false;
        for (int k = 0; k < n; k++) {
            Double w = job.params().model(job.modelIndices().get(k), "weight");
            double v = w == null ? 1 : w;
            weighted |= w != null;
            sumW += v;
            sumAbsW += Math.abs(v);
            maxW = Math.max(maxW, Math.abs(v));
        }
        double lambda = Math.abs(job.params().global("lambda", 1));
        boolean normalize = job.params().global("normalize", 0) != 0;
        if (normalize && weighted && Math.abs(sumW) <= 1e-6 * sumAbsW) {
            return "normalised weights that cancel: the models' weights sum to " + fmt(sumW) + ", and normalize"
                    + " divides by that sum (give weights that do not sum to 0, or normalize: false)";
        }
        if (weighted && (maxW * lambda * tau * n >= F32_MAX || maxW >= F32_MAX)) {
            return "an overflowing weight: weights up to " + fmt(maxW) + " on values up to " + fmt(tau)
                    + " exceed float32's range (3.4e38)";
        }
        for (LoraAdapter a : adapters) {
            double scaling = a == null ? 0 : a.modules().stream().mapToDouble(LoraAdapter.Module::scaling).max()
                    .orElse(0);
            if (scaling >= 1e15) {
                return "an adapter's scaling lora_alpha / r = " + fmt(scaling) + " (" + a.dir() + ") on its factors";
            }
        }
        if (inputs >= 1e15) {
            return "an input near the float32 range: values up to " + fmt(inputs) + ", whose squares and sums"
                    + " overflow float32 (3.4e38) in the method's arithmetic";
        }
        return "an overflow in the method's arithmetic (input values up to " + fmt(inputs) + ")";
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.3g", v);
    }

    /** The largest finite magnitude in a tensor (NaN/Inf in inputs are refused by the input scan before this). */
    private static double maxAbs(TensorRef t) {
        if (t == null || !t.info().dtype().mergeable()) {
            return 0;
        }
        double[] max = {0};
        try {
            TensorCopy.floats(t, new TensorSink() {
                @Override
                public void writeFloats(float[] src, int off, int count) {
                    for (int i = off; i < off + count; i++) {
                        float a = Math.abs(src[i]);
                        if (a > max[0] && Float.isFinite(a)) {
                            max[0] = a;
                        }
                    }
                }

                @Override
                public void writeRaw(ByteBuffer bytes) {
                    bytes.position(bytes.limit());
                }
            });
        } catch (IOException | RuntimeException e) {
            return 0;                                    // the cause stays unnamed; the failure itself is reported
        }
        return max[0];
    }
}
