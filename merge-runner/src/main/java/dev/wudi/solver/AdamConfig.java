package dev.wudi.solver;

/**
 * torch.optim.Adam's settings (weight_decay 0, no amsgrad, bias correction on) and the number of steps.
 * The defaults are the paper's: lr 1e-5, betas (0.9, 0.999), eps 1e-8, 300 iterations (specification 2.1).
 */
public record AdamConfig(float lr, float beta1, float beta2, float eps, int iterations) {

    public static final float PAPER_LR = 1e-5f;
    public static final int PAPER_ITERATIONS = 300;

    public AdamConfig {
        if (!(lr > 0) || Float.isInfinite(lr)) {
            throw new IllegalArgumentException("lr must be a positive number, got " + lr);
        }
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("betas must lie in [0, 1), got " + beta1 + ", " + beta2);
        }
        if (!(eps >= 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException("eps must be a finite number >= 0, got " + eps);
        }
        if (iterations < 0) {
            throw new IllegalArgumentException("iterations must be >= 0, got " + iterations);
        }
    }

    /** The paper's settings. */
    public static AdamConfig paper() {
        return new AdamConfig(PAPER_LR, 0.9f, 0.999f, 1e-8f, PAPER_ITERATIONS);
    }

    public AdamConfig withLr(float newLr) {
        return new AdamConfig(newLr, beta1, beta2, eps, iterations);
    }

    public AdamConfig withIterations(int n) {
        return new AdamConfig(lr, beta1, beta2, eps, n);
    }
}
