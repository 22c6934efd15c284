package dev.wudi.cuda;

import static dev.wudi.cuda.GpuFixture.assertClose;
import static dev.wudi.cuda.GpuFixture.assertSameBits;
import static dev.wudi.cuda.GpuFixture.device;
import static dev.wudi.cuda.GpuFixture.kernels;
import static dev.wudi.cuda.GpuFixture.stream;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.wudi.adam.AdamStepScalars;
import dev.wudi.cuda.reference.FusedAdamReference;
import dev.wudi.cuda.reference.HalfPrecision;
import dev.wudi.cuda.reference.ReductionReference;
import dev.wudi.cuda.reference.SymmetrizeReference;
import dev.wudi.cuda.reference.TaskVectorReference;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every kernel of cuda-kernels/ against its host reference, on fresh random data, with outputs poisoned
 * (NaN) beforehand so an unwritten element fails. Sizes cover the float4/uint4 tails. Skipped without a GPU.
 */
class KernelParityGpuTest {

    private final SplittableRandom rnd = new SplittableRandom(System.nanoTime());

    @BeforeEach
    void needGpu() {
        GpuFixture.require(false);
    }

    @AfterAll
    static void release() {
        GpuFixture.release();
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


    private static float[] down(DeviceBuffer b, int n) {
        stream.synchronize("test");
        float[] x = new float[n];
        b.download(x);
        return x;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 4, 5, 9, 1023, 4103, 1 << 20 | 3})
    void taskVectors(int n) {
        float[] wi = gaussian(n, 1), w0 = gaussian(n, 1);
        short[] bi = new short[n], b0 = new short[n], hi = new short[n], h0 = new short[n];
        for (int k = 0; k < n; k++) {
            bi[k] = HalfPrecision.floatToBf16(wi[k]);
            b0[k] = HalfPrecision.floatToBf16(w0[k]);
            hi[k] = HalfPrecision.floatToF16(wi[k]);
            h0[k] = HalfPrecision.floatToF16(w0[k]);
        }
        try (DeviceBuffer a = device.upload(wi, "wi");
             DeviceBuffer b = device.upload(w0, "w0");
             DeviceBuffer ba = device.upload(bi, "bf16 wi");
             DeviceBuffer bb = device.upload(b0, "bf16 w0");
             DeviceBuffer ha = device.upload(hi, "f16 wi");
             DeviceBuffer hb = device.upload(h0, "f16 w0");
             DeviceBuffer tau = device.upload(poison(n), "tau")) {
            kernels.taskVectorF32(a, b, tau, n, stream);
            assertSameBits(TaskVectorReference.fromF32(wi, w0), down(tau, n), "tau f32");
            tau.upload(poison(n));
            kernels.taskVectorBf16(ba, bb, tau, n, stream);
            assertSameBits(TaskVectorReference.fromBf16(bi, b0), down(tau, n), "tau bf16");
            tau.upload(poison(n));
            kernels.taskVectorF16(ha, hb, tau, n, stream);
            assertSameBits(TaskVectorReference.fromF16(hi, h0), down(tau, n), "tau f16");
        }
    }

    @Test
    void wideningEvery16BitPattern() {
        int n = 1 << 16;
        short[] all = new short[n];
        for (int k = 0; k < n; k++) {
            all[k] = (short) k;
        }
        float[] wantBf = new float[n], wantH = new float[n];
        for (int k = 0; k < n; k++) {
            wantBf[k] = HalfPrecision.bf16ToFloat(all[k]);
            wantH[k] = HalfPrecision.f16ToFloat(all[k]);
        }
        try (DeviceBuffer src = device.upload(all, "patterns"); DeviceBuffer dst = device.upload(poison(n), "floats")) {
            kernels.bf16ToF32(src, dst, n, stream);
            assertSameBits(wantBf, down(dst, n), "bf16 -> f32");
            dst.upload(poison(n));
            kernels.f16ToF32(src, dst, n, stream);
            float[] got = down(dst, n);
            for (int k = 0; k < n; k++) {    // NaN payloads: the hardware may canonicalise; NaN must stay NaN
                if (Float.isNaN(wantH[k])) {
                    assertEquals(true, Float.isNaN(got[k]), "f16 NaN pattern " + Integer.toHexString(k));
                    got[k] = wantH[k];
                }
            }
            assertSameBits(wantH, got, "f16 -> f32");
        }
    }

    @Test
    void narrowingRoundsToNearestEvenAndKeepsNan() {
        int n = 300_001;
        float[] x = new float[n];
        for (int k = 0; k < n; k++) {
            x[k] = Float.intBitsToFloat(rnd.nextInt());   // every exponent: subnormals, overflow, NaN, inf
        }
        float[] specials = {0f, -0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 65504f, 65520f,
            0x1p-24f, 0x1p-25f, 0x1.8p-25f, 1f + 0x1p-11f, 1f + 0x1p-8f, Float.intBitsToFloat(0x7f800001),
            Float.intBitsToFloat(0xffc00001), Float.MAX_VALUE, Float.MIN_VALUE};
        System.arraycopy(specials, 0, x, 0, specials.length);
        short[] wantB = new short[n], wantH = new short[n];
        for (int k = 0; k < n; k++) {
            wantB[k] = HalfPrecision.floatToBf16(x[k]);
            wantH[k] = HalfPrecision.floatToF16(x[k]);
        }
        try (DeviceBuffer src = device.upload(x, "floats"); DeviceBuffer dst = device.allocate(2L * n, "halves")) {
            short[] got = new short[n];
            kernels.f32ToBf16(src, dst, n, stream);
            stream.synchronize("test");
            dst.download(got);
            assertSameBits(wantB, got, "f32 -> bf16");
            kernels.f32ToF16(src, dst, n, stream);
            stream.synchronize("test");
            dst.download(got);
            assertSameBits(wantH, got, "f32 -> f16");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 5, 1023, 1 << 20 | 1, 3 << 20})
    void reductionsAreRightAndDeterministic(int n) {
        float[] p = gaussian(n, 1), d = gaussian(n, 1), tau = gaussian(n, 1);
        try (DeviceBuffer bp = device.upload(p, "P");
             DeviceBuffer bd = device.upload(d, "D");
             DeviceBuffer bt = device.upload(tau, "tau");
             DeviceBuffer partials = device.allocate(WudiKernels.PARTIALS_BYTES, "partials");
             DeviceBuffer out = device.allocate(8 * 4, "out")) {
            int c1 = kernels.squaredNormPartials(bp, n, partials, stream);
            kernels.reducePartials(partials, c1, out, 0, stream);
            int c2 = kernels.interferenceLossPartials(bp, bd, bt, n, partials, stream);
            kernels.reducePartials(partials, c2, out, 1, stream);
            kernels.squaredNormPartials(bp, n, partials, stream);
            kernels.reducePartials(partials, c1, out, 2, stream);
            stream.synchronize("test");
            double[] got = new double[4];
            out.download(got);
            assertClose(ReductionReference.squaredNorm(p), got[0], 1e-12, "squared norm");
            assertClose(ReductionReference.interferenceLoss(p, d, tau), got[1], 1e-10, "interference loss");
            assertEquals(Double.doubleToLongBits(got[0]), Double.doubleToLongBits(got[2]), "same inputs, same bits");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 4, 7, 1021, 1 << 20 | 2})
    void fusedAdamMatchesTheReferenceBitForBit(int n) {
        float[] p = gaussian(n, 1), d = gaussian(n, 1), tau = gaussian(n, 0.01);
        float[] m = gaussian(n, 0.1), v = new float[n];
        for (int k = 0; k < n; k++) {
            v[k] = (float) Math.abs(0.1 * rnd.nextGaussian());
        }
        try (DeviceBuffer bp = device.upload(p, "P");
             DeviceBuffer bd = device.upload(d, "D");
             DeviceBuffer bm = device.upload(m, "m");
             DeviceBuffer bv = device.upload(v, "v");
             DeviceBuffer bt = device.upload(tau, "tau");
             DeviceBuffer partials = device.allocate(WudiKernels.PARTIALS_BYTES, "partials");
             DeviceBuffer out = device.allocate(8, "loss")) {
            for (int t = 1; t <= 3; t++) {
                AdamStepScalars s = AdamStepScalars.forStep(1e-5f, 0.9f, 0.999f, 1e-8f, t);
                int parts = kernels.fusedAdam(bp, bd, bm, bv, bt, n, s, partials, stream);
                kernels.reducePartials(partials, parts, out, 0, stream);
                double want = FusedAdamReference.step(p, d, m, v, tau, s);
                assertSameBits(m, down(bm, n), "m after step " + t);
                assertSameBits(v, down(bv, n), "v after step " + t);
                assertSameBits(tau, down(bt, n), "tau after step " + t);
                double[] got = new double[1];
                out.download(got);
                assertClose(want, got[0], 1e-10, "loss at step " + t);
            }
            AdamStepScalars s = AdamStepScalars.forStep(1e-5f, 0.9f, 0.999f, 1e-8f, 4);
            kernels.fusedAdam(bp, bd, bm, bv, bt, n, s, null, stream);   // without the loss: same update
            FusedAdamReference.step(p, d, m, v, tau, s);
            assertSameBits(tau, down(bt, n), "tau after a step without loss");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 17, 768, 1031})
    void symmetrize(int n) {
        float[] g = gaussian(n * n, 1);
        float[] want = g.clone();
        SymmetrizeReference.fromUpper(want, n);
        try (DeviceBuffer b = device.upload(g, "G")) {
            kernels.symmetrizeFromUpper(b, n, stream);
            assertSameBits(want, down(b, n * n), "G");
        }
    }
}
