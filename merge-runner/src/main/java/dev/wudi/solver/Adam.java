package dev.wudi.solver;

import dev.wudi.adam.AdamStepScalars;

/**
 * One step of torch.optim.Adam (single-tensor path, foreach=False, weight_decay 0, no amsgrad),
 * element-wise on float32, in PyTorch's operation order (specification 2.1):
 *
 * <pre>
 *   exp_avg.lerp_(grad, 1 - beta1)                               m = m + (1-b1)(g - m)
 *   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  v = b2 v + (1-b2) g g
 *   bias_correction1 = 1 - beta1 ** t        (Python double)
 *   bias_correction2 = 1 - beta2 ** t        (Python double)
 *   step_size = lr / bias_correction1        (Python double)
 *   denom = (exp_avg_sq.sqrt() / bias_correction2 ** 0.5).add_(eps)
 *   param.addcdiv_(exp_avg, denom, value=-step_size)            tau = tau - step_size m / denom
 * </pre>
 *
 * Rounding follows PyTorch's CPU kernels for float32 tensors: every Python scalar is rounded to float32
 * when it meets the tensor; lerp_ with a weight below 0.5 is fma(w, g - m, m) (ATen's vectorised lerp);
 * addcmul_ is v + (value * g) * g and addcdiv_ is tau + (value * m) / denom, each operation rounded, no
 * fma. PyTorch's CUDA kernels differ by at most an ulp per operation (they multiply by 1/sqrt(bc2) instead
 * of dividing, and nvcc contracts a + b * c into an fma); a CUDA backend matching this class to the bit
 * has to spell out these roundings.
 *
 * This is also the host reference of the fused CUDA Adam kernel ({@link #stepGramForm}).
 */
public final class Adam {

    private Adam() {
    }

    /**
     * The scalars of step t (1-based), computed in double as Python does and then rounded to float32: the one
     * {@link AdamStepScalars} type that the GPU's kernel and every reference use too.
     */
    public static AdamStepScalars scalars(AdamConfig c, int t) {
        return AdamStepScalars.forStep(c.lr(), c.beta1(), c.beta2(), c.eps(), t);
    }

    // ---------------------------------------------------------------------------------------------
    // The three element updates, each written once (the loops below inline them).

    /** exp_avg.lerp_(g, w): m + w (g - m) as fma for w &lt; 0.5, else g - (1 - w)(g - m) as ATen does. */
    static float newM(AdamStepScalars s, float m, float g) {
        float w = s.lerpWeight();
        float diff = g - m;
        if (Math.abs(w) < 0.5f) {
            return Math.fma(w, diff, m);
        }
        return Math.fma(w - 1.0f, diff, g);
    }

    /** exp_avg_sq.mul_(b2).addcmul_(g, g, value=1-b2): (v b2) + ((1-b2) g) g, each product rounded. */
    static float newV(AdamStepScalars s, float v, float g) {
        float decayed = v * s.beta2();
        return decayed + (s.oneMinusBeta2() * g) * g;
    }

    /** param.addcdiv_(m, sqrt(v) / sqrt(bc2) + eps, value=-step_size): eps outside the sqrt, after bias correction. */
    static float newParam(AdamStepScalars s, float param, float m, float v) {
        float denom = (float) Math.sqrt(v) / s.bc2Sqrt() + s.eps();
        return param + (s.negStepSize() * m) / denom;
    }

    // ---------------------------------------------------------------------------------------------
    // The loops. All arrays are heap float[] indexed by the same i: that is what lets HotSpot's C2
    // vectorise them (measured 0.4 ns per element on one core; through direct FloatBuffers, or with a
    // scratch array indexed by i - from, the same loop stays scalar at 3.2 ns).

    /** One step on elements [from, to) with the gradient given: updates m, v and param in place. */
    public static void step(AdamStepScalars s, float[] grad, float[] m, float[] v, float[] param, int from, int to) {
        checkRange(param.length, from, to, grad.length == param.length && m.length == param.length && v.length == param.length);
        for (int i = from; i < to; i++) {
            float g = grad[i];
            float mi = newM(s, m[i], g);
            float vi = newV(s, v[i], g);
            m[i] = mi;
            v[i] = vi;
            param[i] = newParam(s, param[i], mi, vi);
        }
    }

    /** One step on whole arrays. */
    public static void step(AdamStepScalars s, float[] grad, float[] m, float[] v, float[] param) {
        step(s, grad, m, v, param, 0, param.length);
    }

    /**
     * The fused step of the Gram form on elements [from, to): with p = tau C already computed (specification 2.2),
     * g = 2 (p - D) (grad L = 2 (tau C - D)), then Adam's update of m, v and tau. Reads p, d, m, v, tau
     * once and writes m, v, tau once: the host reference of the fused CUDA kernel.
     */
    public static void stepGramForm(AdamStepScalars s, float[] p, float[] d, float[] m, float[] v, float[] tau,
                                    int from, int to) {
        checkRange(tau.length, from, to, p.length == tau.length && d.length == tau.length && m.length == tau.length
                && v.length == tau.length);
        for (int i = from; i < to; i++) {
            float g = 2.0f * (p[i] - d[i]);                  // grad L = 2 (tau C - D)
            float mi = newM(s, m[i], g);
            float vi = newV(s, v[i], g);
            m[i] = mi;
            v[i] = vi;
            tau[i] = newParam(s, tau[i], mi, vi);
        }
    }

    /**
     * sum over [from, to) of (p - 2 d) tau in double, with p = tau C: adding K to the total over all
     * elements gives L(tau) = &lt;tau C, tau&gt; - 2 &lt;tau, D&gt; + K (specification 2.2). Four partial sums so that
     * the additions do not wait on each other.
     */
    public static double gramLossTerms(float[] p, float[] d, float[] tau, int from, int to) {
        checkRange(tau.length, from, to, p.length == tau.length && d.length == tau.length);
        double a0 = 0.0;
        double a1 = 0.0;
        double a2 = 0.0;
        double a3 = 0.0;
        int i = from;
        for (; i + 3 < to; i += 4) {
            a0 += ((double) p[i] - 2.0 * d[i]) * tau[i];
            a1 += ((double) p[i + 1] - 2.0 * d[i + 1]) * tau[i + 1];
            a2 += ((double) p[i + 2] - 2.0 * d[i + 2]) * tau[i + 2];
            a3 += ((double) p[i + 3] - 2.0 * d[i + 3]) * tau[i + 3];
        }
        for (; i < to; i++) {
            a0 += ((double) p[i] - 2.0 * d[i]) * tau[i];
        }
        return (a0 + a1) + (a2 + a3);
    }

    private static void checkRange(int n, int from, int to, boolean sameLengths) {
        if (!sameLengths) {
            throw new IllegalArgumentException("the arrays of one Adam step must have the same length");
        }
        if (from < 0 || to > n || from > to) {
            throw new IllegalArgumentException("range [" + from + ", " + to + ") outside an array of " + n);
        }
    }
}
