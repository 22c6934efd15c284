package dev.wudi.adam;

/**
 * The scalars of Adam step t exactly as torch.optim.Adam (single-tensor path, weight_decay 0) forms them (specification 2.1),
 * for every Adam of the engine: the CPU's passes (solver/Adam, cuda-kernels/cpu/fused_adam_cpu.c), the GPU's kernel
 * (cuda-kernels/fused_adam.cu) and their references. One type, so that the backends cannot drift apart by a rounding.
 * PyTorch holds lr and the betas as Python doubles and rounds each scalar to float32 when it meets the float32 tensor;
 * so does this:
 * <pre>
 *   lerpWeight    = float(1 - b1)                  exp_avg.lerp_(grad, 1 - beta1)
 *   beta2         = float(b2)                      exp_avg_sq.mul_(beta2)
 *   oneMinusBeta2 = float(1 - b2)                  .addcmul_(grad, grad, value=1 - beta2)
 *   stepSize      = float(lr / (1 - b1^t))         step_size = lr / bias_correction1
 *   bc2Sqrt       = float(sqrt(1 - b2^t))          bias_correction2_sqrt
 *   eps           = float(eps)
 * </pre>
 * with the subtractions, powers, quotient and root in double. The float settings are read back as the decimals the
 * user typed (0.9f gives 0.9), so that 1 - beta1 rounds to the same float as in PyTorch. The powers are
 * {@link StrictMath#pow} (fdlibm): the same double on every JVM, where {@link Math#pow} may be an intrinsic that
 * differs in the last bit (it does at 0.9^4 on HotSpot 17 x86-64); rounded to float both give the correctly rounded
 * value for the paper's betas (AdamStepScalarsTest checks every step against exact arithmetic).
 *
 * @param t             the step, from 1
 * @param lerpWeight    float32(1 - beta1), lerp_'s weight
 * @param beta2         float32(beta2), mul_'s factor
 * @param oneMinusBeta2 float32(1 - beta2), addcmul_'s value
 * @param stepSize      float32(lr / (1 - beta1^t)); addcdiv_'s value is its negation
 * @param bc2Sqrt       float32(sqrt(1 - beta2^t)), the divisor of sqrt(v)
 * @param eps           float32(eps), added after the division
 */
public record AdamStepScalars(int t, float lerpWeight, float beta2, float oneMinusBeta2, float stepSize, float bc2Sqrt,
                              float eps) {

    /** Floats in struct WudiAdamScalars of cuda-kernels/fused_adam.cu. */
    public static final int KERNEL_FLOATS = 7;

    /** Scalars of step {@code t} (1-based) for the settings lr, beta1, beta2, eps as the user gave them. */
    public static AdamStepScalars forStep(float lr, float beta1, float beta2, float eps, int t) {
        if (t < 1) {
            throw new IllegalArgumentException("Adam steps count from 1, got " + t);
        }
        double lrD = asWritten(lr);
        double b1 = asWritten(beta1);
        double b2 = asWritten(beta2);
        double bc1 = 1.0 - StrictMath.pow(b1, t);          // bias_correction1 = 1 - beta1^t
        double bc2 = 1.0 - StrictMath.pow(b2, t);          // bias_correction2 = 1 - beta2^t
        return new AdamStepScalars(t, (float) (1.0 - b1), (float) b2, (float) (1.0 - b2), (float) (lrD / bc1),
                (float) Math.sqrt(bc2), (float) asWritten(eps));
    }

    /** addcdiv_'s value, -step_size (a negation: exact). */
    public float negStepSize() {
        return -stepSize;
    }

    /**
     * The Python double a user would have written for this float setting (1e-5f gives 1e-5, not
     * 9.99999974738e-06), so that 1 - beta1^t and lr / bias_correction1 are PyTorch's doubles.
     */
    public static double asWritten(float x) {
        return Double.parseDouble(Float.toString(x));
    }

    /**
     * Writes the 7 floats of struct WudiAdamScalars (cuda-kernels/fused_adam.cu, 28 bytes passed by value) into
     * {@code into[0 .. 7)}: b1 (unused by the kernel, kept for the struct's layout; 1 - lerpWeight), one_minus_b1,
     * b2, one_minus_b2, step_size, bc2_sqrt, eps.
     */
    public void writeKernelArgument(float[] into) {
        into[0] = 1.0f - lerpWeight;
        into[1] = lerpWeight;
        into[2] = beta2;
        into[3] = oneMinusBeta2;
        into[4] = stepSize;
        into[5] = bc2Sqrt;
        into[6] = eps;
    }

    /** The 7 floats of struct WudiAdamScalars, in a new array. */
    public float[] toKernelArgument() {
        float[] a = new float[KERNEL_FLOATS];
        writeKernelArgument(a);
        return a;
    }
}
