package dev.wudi.cuda;

/**
 * The scalars of Adam step t exactly as torch.optim.Adam (single-tensor path, weight_decay 0) forms them
 * (SPEC 2.1). PyTorch holds lr and the betas as Python doubles and rounds each scalar to float32 when it
 * meets the float32 tensor; so does this:
 * <pre>
 *   oneMinusB1 = float(1 - b1)                 exp_avg.lerp_(grad, 1 - beta1)
 *   oneMinusB2 = float(1 - b2)                 exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
 *   stepSize   = float(lr / (1 - b1^t))        step_size = lr / bias_correction1
 *   bc2Sqrt    = float(sqrt(1 - b2^t))         bias_correction2_sqrt
 * </pre>
 * with the subtractions and powers in double. The float settings of AdamConfig are read back as the
 * decimals the user typed (0.9f -> 0.9), so that 1 - beta1 rounds to the same float as in PyTorch.
 * The layout of {@link #toKernelArgument()} is the struct WudiAdamScalars of cuda-kernels/fused_adam.cu.
 */
public record AdamStepScalars(float b1, float oneMinusB1, float b2, float oneMinusB2, float stepSize,
                              float bc2Sqrt, float eps) {

    /** Scalars of step {@code t} (1-based). */
    public static AdamStepScalars forStep(float lr, float beta1, float beta2, float eps, int t) {
        if (t < 1) {
            throw new IllegalArgumentException("Adam steps count from 1, got " + t);
        }
        double lrD = decimal(lr);
        double b1D = decimal(beta1);
        double b2D = decimal(beta2);
        double bc1 = 1.0 - Math.pow(b1D, t);
        double bc2 = 1.0 - Math.pow(b2D, t);
        return new AdamStepScalars(beta1, (float) (1.0 - b1D), beta2, (float) (1.0 - b2D),
                (float) (lrD / bc1), (float) Math.sqrt(bc2), eps);
    }

    /** The double a user meant by a float setting: the shortest decimal that rounds to it. */
    static double decimal(float x) {
        return Double.parseDouble(Float.toString(x));
    }

    /** The 7 floats in the order of struct WudiAdamScalars (28 bytes, passed by value). */
    public float[] toKernelArgument() {
        return new float[] {b1, oneMinusB1, b2, oneMinusB2, stepSize, bc2Sqrt, eps};
    }
}
