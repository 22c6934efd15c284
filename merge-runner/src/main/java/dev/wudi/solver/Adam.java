package dev.wudi.solver;

import java.nio.FloatBuffer;

/**
 * One step of torch.optim.Adam (single-tensor path, foreach=False, weight_decay 0, no amsgrad),
 * element-wise on float32, in PyTorch's operation order (SPEC 2.1):
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
 * This is also the host reference of the fused CUDA Adam kernel: {@link #stepGramForm} reads P, D, m, v,
 * tau once and writes m, v, tau once.
 */
public final class Adam {

    private Adam() {
    }

    /**
     * The scalars of step t as the float32 values PyTorch's kernels see.
     *
     * @param lerpWeight       float32(1 - beta1), lerp_'s weight
     * @param beta2            float32(beta2), mul_'s factor
     * @param oneMinusBeta2    float32(1 - beta2), addcmul_'s value
     * @param bc2Sqrt          float32(sqrt(1 - beta2^t)), the divisor of sqrt(v)
     * @param eps              eps
     * @param negStepSize      float32(-lr / (1 - beta1^t)), addcdiv_'s value
     */
    public record StepScalars(int t, float lerpWeight, float beta2, float oneMinusBeta2, float bc2Sqrt,
                              float eps, float negStepSize) {
    }

    /** The scalars of step t (1-based), computed in double as Python does and then rounded to float32. */
    public static StepScalars scalars(AdamConfig c, int t) {
        if (t < 1) {
            throw new IllegalArgumentException("Adam steps count from 1, got " + t);
        }
        double lr = asWritten(c.lr());
        double b1 = asWritten(c.beta1());
        double b2 = asWritten(c.beta2());
        double bc1 = 1.0 - StrictMath.pow(b1, t);          // bias_correction1 = 1 - beta1^t
        double bc2 = 1.0 - StrictMath.pow(b2, t);          // bias_correction2 = 1 - beta2^t
        double stepSize = lr / bc1;                        // step_size = lr / bias_correction1
        return new StepScalars(t, (float) (1.0 - b1), (float) b2, (float) (1.0 - b2),
                (float) Math.sqrt(bc2), (float) asWritten(c.eps()), (float) -stepSize);
    }

    /**
     * The Python double a user would have written for this float setting (1e-5f gives 1e-5, not
     * 9.99999974738e-06), so that 1 - beta1^t and lr / bias_correction1 are PyTorch's doubles.
     */
    static double asWritten(float x) {
        return Double.parseDouble(Float.toString(x));
    }

    // ---------------------------------------------------------------------------------------------
    // The three element updates, each written once (the loops below inline them).

    /** exp_avg.lerp_(g, w): m + w (g - m) as fma for w &lt; 0.5, else g - (1 - w)(g - m) as ATen does. */
    static float newM(StepScalars s, float m, float g) {
        float w = s.lerpWeight;
        float diff = g - m;
        if (Math.abs(w) < 0.5f) {
            return Math.fma(w, diff, m);
        }
        return Math.fma(w - 1.0f, diff, g);
    }

    /** exp_avg_sq.mul_(b2).addcmul_(g, g, value=1-b2): (v b2) + ((1-b2) g) g, each product rounded. */
    static float newV(StepScalars s, float v, float g) {
        float decayed = v * s.beta2;
        return decayed + (s.oneMinusBeta2 * g) * g;
    }

    /** param.addcdiv_(m, sqrt(v) / sqrt(bc2) + eps, value=-step_size): eps outside the sqrt, after bias correction. */
    static float newParam(StepScalars s, float param, float m, float v) {
        float denom = (float) Math.sqrt(v) / s.bc2Sqrt + s.eps;
        return param + (s.negStepSize * m) / denom;
    }

    // ---------------------------------------------------------------------------------------------

    /** One step on elements [from, to) with the gradient given: updates m, v and param in place. */
    public static void step(StepScalars s, FloatBuffer grad, FloatBuffer m, FloatBuffer v, FloatBuffer param,
                            int from, int to) {
        for (int i = from; i < to; i++) {
            float g = grad.get(i);
            float mi = newM(s, m.get(i), g);
            float vi = newV(s, v.get(i), g);
            m.put(i, mi);
            v.put(i, vi);
            param.put(i, newParam(s, param.get(i), mi, vi));
        }
    }

    /** One step on whole heap arrays (tests, small problems). */
    public static void step(StepScalars s, float[] grad, float[] m, float[] v, float[] param) {
        int n = param.length;
        if (grad.length != n || m.length != n || v.length != n) {
            throw new IllegalArgumentException("grad, m, v and param must have the same length");
        }
        step(s, FloatBuffer.wrap(grad), FloatBuffer.wrap(m), FloatBuffer.wrap(v), FloatBuffer.wrap(param), 0, n);
    }

    /**
     * The fused step of the Gram form on elements [from, to): with P = tau C already computed,
     * g = 2 (P - D) (SPEC 2.2, grad L = 2 (tau C - D)), then the Adam update of m, v and tau.
     *
     * @return sum over the range of (P - 2 D) * tau in double, taken before tau moves: adding K to the
     *         total gives L(tau) = &lt;tau C, tau&gt; - 2 &lt;tau, D&gt; + K at the step's start, at the price
     *         of one multiply-add per element of a memory-bound pass
     */
    public static double stepGramForm(StepScalars s, FloatBuffer p, FloatBuffer d, FloatBuffer m, FloatBuffer v,
                                      FloatBuffer tau, int from, int to) {
        double lossPart = 0.0;
        for (int i = from; i < to; i++) {
            float pi = p.get(i);
            float di = d.get(i);
            float ti = tau.get(i);
            lossPart += ((double) pi - 2.0 * di) * ti;          // <tau C - 2 D, tau>
            float g = 2.0f * (pi - di);                         // grad L = 2 (tau C - D)
            float mi = newM(s, m.get(i), g);
            float vi = newV(s, v.get(i), g);
            m.put(i, mi);
            v.put(i, vi);
            tau.put(i, newParam(s, ti, mi, vi));
        }
        return lossPart;
    }
}
