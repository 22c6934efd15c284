package dev.wudi.selftest;

import dev.wudi.adam.AdamStepScalars;
import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaStream;
import dev.wudi.cuda.DeviceBuffer;
import dev.wudi.cuda.WudiKernels;
import dev.wudi.cuda.reference.FusedAdamReference;
import dev.wudi.cuda.reference.HalfPrecision;
import dev.wudi.cuda.reference.ReductionReference;
import dev.wudi.cuda.reference.SymmetrizeReference;
import dev.wudi.cuda.reference.TaskVectorReference;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Every kernel of cuda-kernels/ against its host reference (dev.wudi.cuda.reference) on the chosen device, at sizes
 * that cover the float4 / uint4 tails and more than one block, with outputs poisoned (NaN) beforehand so that an
 * element a kernel fails to write fails the check. Everything must match bit for bit: the element-wise kernels and
 * the fused Adam step do the same float32 operations in the same order as their references, and the reductions add
 * their double terms in the kernels' own order, unfused (ReductionReference.*InKernelOrder; the fatbin is built with
 * --fmad=false); each reduction line also gives its distance from the plain index-order sum. The one kernel parity
 * suite: `wudi selftest` prints it, and KernelParityGpuTest holds every line of it (cuda-kernels/check/kernel_check.cu
 * is the same checks in C++ for a machine without a JVM).
 */
final class KernelChecks {

    private final CudaDevice device;
    private final CudaStream stream;
    private final WudiKernels kernels;
    private final Consumer<Check> out;
    private final SplittableRandom rnd = new SplittableRandom(20250308);

    KernelChecks(CudaDevice device, CudaStream stream, WudiKernels kernels, Consumer<Check> out) {
        this.device = device;
        this.stream = stream;
        this.kernels = kernels;
        this.out = out;
    }

    void runAll() {
        for (int n : new int[] {1, 3, 4, 5, 9, 1023, 4103, (1 << 20) + 3}) {
            taskVectors(n);
        }
        widening();
        narrowing();
        for (int n : new int[] {1, 5, 1023, (1 << 20) + 1, 3 << 20}) {
            reductions(n);
        }
        for (int n : new int[] {1, 4, 7, 1021, (1 << 20) + 2}) {
            fusedAdam(n);
        }
        for (int n : new int[] {1, 2, 17, 768, 1031}) {
            symmetrize(n);
        }
    }

    /** Runs one check, turning any exception into a failed line that names it. */
    private void check(String name, java.util.function.Supplier<String> body) {
        try {
            String failure = body.get();
            out.accept(failure == null ? Check.pass(name, "bit-identical to the host reference")
                    : failure.startsWith("ok:") ? Check.pass(name, failure.substring(3).trim()) : Check.fail(name, failure));
        } catch (RuntimeException e) {
            out.accept(Check.fail(name, e.toString()));
        }
    }

    private float[] gaussian(int n, double scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (scale * rnd.nextGaussian());
        }
        return x;
    }

    private static float[] poison(int n) {
        float[] x = new float[n];
        Arrays.fill(x, Float.NaN);
        return x;
    }


    private float[] down(DeviceBuffer b, int n) {
        stream.synchronize("selftest");
        float[] x = new float[n];
        b.download(x);
        return x;
    }

    /** null when every element has the same bits, else the first that differs. */
    private static String sameBits(float[] want, float[] got) {
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                return "element " + i + " of " + want.length + ": " + got[i] + ", the reference " + want[i];
            }
        }
        return null;
    }

    private static String sameBits(short[] want, short[] got) {
        for (int i = 0; i < want.length; i++) {
            if (want[i] != got[i]) {
                return "element " + i + " of " + want.length + ": 0x" + Integer.toHexString(got[i] & 0xffff)
                        + ", the reference 0x" + Integer.toHexString(want[i] & 0xffff);
            }
        }
        return null;
    }

    private void taskVectors(int n) {
        float[] wi = gaussian(n, 1);
        float[] w0 = gaussian(n, 1);
        short[] bi = new short[n];
        short[] b0 = new short[n];
        short[] hi = new short[n];
        short[] h0 = new short[n];
        for (int k = 0; k < n; k++) {
            bi[k] = HalfPrecision.floatToBf16(wi[k]);
            b0[k] = HalfPrecision.floatToBf16(w0[k]);
            hi[k] = HalfPrecision.floatToF16(wi[k]);
            h0[k] = HalfPrecision.floatToF16(w0[k]);
        }
        try (DeviceBuffer a = device.upload(wi, "wi"); DeviceBuffer b = device.upload(w0, "w0"); DeviceBuffer ba = device.upload(bi, "bf16 wi");
             DeviceBuffer bb = device.upload(b0, "bf16 w0"); DeviceBuffer ha = device.upload(hi, "f16 wi"); DeviceBuffer hb = device.upload(h0, "f16 w0");
             DeviceBuffer tau = device.upload(poison(n), "tau")) {
            check("kernel task_vector f32 n=" + n, () -> {
                kernels.taskVectorF32(a, b, tau, n, stream);
                return sameBits(TaskVectorReference.fromF32(wi, w0), down(tau, n));
            });
            check("kernel task_vector bf16 n=" + n, () -> {
                tau.upload(poison(n));
                kernels.taskVectorBf16(ba, bb, tau, n, stream);
                return sameBits(TaskVectorReference.fromBf16(bi, b0), down(tau, n));
            });
            check("kernel task_vector f16 n=" + n, () -> {
                tau.upload(poison(n));
                kernels.taskVectorF16(ha, hb, tau, n, stream);
                return sameBits(TaskVectorReference.fromF16(hi, h0), down(tau, n));
            });
        }
    }

    private void widening() {
        int n = 1 << 16;
        short[] all = new short[n];
        float[] wantBf = new float[n];
        float[] wantH = new float[n];
        for (int k = 0; k < n; k++) {
            all[k] = (short) k;
            wantBf[k] = HalfPrecision.bf16ToFloat(all[k]);
            wantH[k] = HalfPrecision.f16ToFloat(all[k]);
        }
        try (DeviceBuffer src = device.upload(all, "patterns"); DeviceBuffer dst = device.upload(poison(n), "floats")) {
            check("kernel convert bf16 -> f32, all 65536 patterns", () -> {
                kernels.bf16ToF32(src, dst, n, stream);
                return sameBits(wantBf, down(dst, n));
            });
            check("kernel convert f16 -> f32, all 65536 patterns", () -> {
                dst.upload(poison(n));
                kernels.f16ToF32(src, dst, n, stream);
                float[] got = down(dst, n);
                for (int k = 0; k < n; k++) {     // a NaN's payload may be canonicalised; it must stay a NaN
                    if (Float.isNaN(wantH[k]) && Float.isNaN(got[k])) {
                        got[k] = wantH[k];
                    }
                }
                return sameBits(wantH, got);
            });
        }
    }

    private void narrowing() {
        int n = 300_001;
        float[] x = new float[n];
        for (int k = 0; k < n; k++) {
            x[k] = Float.intBitsToFloat(rnd.nextInt());   // every exponent: subnormals, overflow, NaN, inf
        }
        float[] specials = {0f, -0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 65504f, 65520f,
            0x1p-24f, 0x1p-25f, 0x1.8p-25f, 1f + 0x1p-11f, 1f + 0x1p-8f, Float.intBitsToFloat(0x7f800001),
            Float.intBitsToFloat(0xffc00001), Float.MAX_VALUE, Float.MIN_VALUE};   // the rounding and range edges
        System.arraycopy(specials, 0, x, 0, specials.length);
        short[] wantB = new short[n];
        short[] wantH = new short[n];
        for (int k = 0; k < n; k++) {
            wantB[k] = HalfPrecision.floatToBf16(x[k]);
            wantH[k] = HalfPrecision.floatToF16(x[k]);
        }
        try (DeviceBuffer src = device.upload(x, "floats"); DeviceBuffer dst = device.allocate(2L * n, "halves")) {
            short[] got = new short[n];
            check("kernel convert f32 -> bf16, 300001 bit patterns (the edges and random)", () -> {
                kernels.f32ToBf16(src, dst, n, stream);
                stream.synchronize("selftest");
                dst.download(got);
                return sameBits(wantB, got);
            });
            check("kernel convert f32 -> f16, 300001 bit patterns (the edges and random)", () -> {
                kernels.f32ToF16(src, dst, n, stream);
                stream.synchronize("selftest");
                dst.download(got);
                return sameBits(wantH, got);
            });
        }
    }

    /** null when want and got are the same double, else both; either way with got's distance from the index-order sum. */
    private static String sameDouble(double want, double got, double indexOrder) {
        double dev = Math.abs(got - indexOrder) / Math.max(Math.abs(indexOrder), 1e-300);
        if (Double.doubleToRawLongBits(want) != Double.doubleToRawLongBits(got)) {
            return got + " against the reference " + want + " (in the kernel's order; not the same bits)";
        }
        return String.format(java.util.Locale.ROOT, "ok: bit-identical to the reference in the kernel's order;"
                + " %.2g from the index-order sum", dev);
    }

    private void reductions(int n) {
        float[] p = gaussian(n, 1);
        float[] d = gaussian(n, 1);
        float[] tau = gaussian(n, 1);
        try (DeviceBuffer bp = device.upload(p, "P"); DeviceBuffer bd = device.upload(d, "D"); DeviceBuffer bt = device.upload(tau, "tau");
             DeviceBuffer partials = device.allocate(WudiKernels.PARTIALS_BYTES, "partials");
             DeviceBuffer out1 = device.allocate(8 * 4, "out")) {
            double[] got = new double[4];
            check("kernel squared_norm + reduce n=" + n, () -> {
                int c = kernels.squaredNormPartials(bp, n, partials, stream);
                kernels.reducePartials(partials, c, out1, 0, stream);
                kernels.squaredNormPartials(bp, n, partials, stream);
                kernels.reducePartials(partials, c, out1, 2, stream);
                stream.synchronize("selftest");
                out1.download(got);
                if (Double.doubleToLongBits(got[0]) != Double.doubleToLongBits(got[2])) {
                    return "not deterministic: " + got[0] + " then " + got[2];
                }
                return sameDouble(ReductionReference.squaredNormInKernelOrder(p), got[0], ReductionReference.squaredNorm(p));
            });
            check("kernel interference_loss + reduce n=" + n, () -> {
                int c = kernels.interferenceLossPartials(bp, bd, bt, n, partials, stream);
                kernels.reducePartials(partials, c, out1, 1, stream);
                stream.synchronize("selftest");
                out1.download(got);
                return sameDouble(ReductionReference.interferenceLossInKernelOrder(p, d, tau), got[1],
                        ReductionReference.interferenceLoss(p, d, tau));
            });
        }
    }

    private void fusedAdam(int n) {
        float[] p = gaussian(n, 1);
        float[] d = gaussian(n, 1);
        float[] tau = gaussian(n, 0.01);
        float[] m = gaussian(n, 0.1);
        float[] v = new float[n];
        for (int k = 0; k < n; k++) {
            v[k] = (float) Math.abs(0.1 * rnd.nextGaussian());
        }
        try (DeviceBuffer bp = device.upload(p, "P"); DeviceBuffer bd = device.upload(d, "D"); DeviceBuffer bm = device.upload(m, "m");
             DeviceBuffer bv = device.upload(v, "v"); DeviceBuffer bt = device.upload(tau, "tau");
             DeviceBuffer partials = device.allocate(WudiKernels.PARTIALS_BYTES, "partials");
             DeviceBuffer loss = device.allocate(8, "loss")) {
            check("kernel fused_adam (3 steps with the loss, 1 without) n=" + n, () -> {
                for (int t = 1; t <= 4; t++) {
                    boolean withLoss = t <= 3;
                    AdamStepScalars s = AdamStepScalars.forStep(1e-5f, 0.9f, 0.999f, 1e-8f, t);
                    double wantLoss = ReductionReference.interferenceLossInKernelOrder(p, d, tau);   // at the step's start
                    int parts = kernels.fusedAdam(bp, bd, bm, bv, bt, n, s, withLoss ? partials : null, stream);
                    if (withLoss) {
                        kernels.reducePartials(partials, parts, loss, 0, stream);
                    }
                    double indexOrder = FusedAdamReference.step(p, d, m, v, tau, s);
                    String[] names = {"m", "v", "tau"};
                    float[][] want3 = {m, v, tau};
                    DeviceBuffer[] got3 = {bm, bv, bt};
                    for (int k = 0; k < 3; k++) {
                        String diff = sameBits(want3[k], down(got3[k], n));
                        if (diff != null) {
                            return "step " + t + (withLoss ? "" : " (without the loss)") + ", " + names[k] + ": " + diff;
                        }
                    }
                    if (withLoss) {
                        double[] got = new double[1];
                        loss.download(got);
                        String l = sameDouble(wantLoss, got[0], indexOrder);
                        if (!l.startsWith("ok:")) {
                            return "step " + t + " loss: " + l;
                        }
                    }
                }
                return null;
            });
        }
    }

    private void symmetrize(int n) {
        float[] g = gaussian(n * n, 1);
        float[] want = g.clone();
        SymmetrizeReference.fromUpper(want, n);
        try (DeviceBuffer b = device.upload(g, "G")) {
            check("kernel symmetrize n=" + n, () -> {
                kernels.symmetrizeFromUpper(b, n, stream);
                return sameBits(want, down(b, n * n));
            });
        }
    }
}
