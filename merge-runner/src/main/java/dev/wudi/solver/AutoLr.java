package dev.wudi.solver;

/**
 * `--lr auto`: Adam's learning rate decided per tensor as a multiple of the tensor's task-vector RMS,
 *
 * <pre>
 *   lr = factor * sqrt( sum_i ||tau_i||_F^2 / (n * rows * cols) ).
 * </pre>
 *
 * Why: Adam's step is absolute (each element moves by about lr per step, whatever the gradient's scale),
 * while the WUDI problem scales with the task vectors (tau_i -> s tau_i scales the minimiser by s and
 * the gradient by s). With lr proportional to the RMS, Adam on s * tau takes exactly s times the steps it
 * takes on tau (up to eps), so the merge no longer depends on how large the fine-tunes moved the
 * weights. The default factor 0.01 gives the paper's 1e-5 at a task-vector RMS of 1e-3, the scale of the
 * synthetic CLIP-like demo; docs/quality.md has the measurements on digits6 and the demo at several
 * scales.
 */
public record AutoLr(double factor) {

    public static final double DEFAULT_FACTOR = 0.01;

    public AutoLr {
        if (!(factor > 0) || Double.isInfinite(factor)) {
            throw new IllegalArgumentException("--lr auto factor must be a positive number, got " + factor);
        }
    }

    public static AutoLr defaults() {
        return new AutoLr(DEFAULT_FACTOR);
    }

    /**
     * Parses "auto" (the default factor) or "auto:K" / "auto*K" (factor K).
     *
     * @return null if s does not start with "auto"
     */
    public static AutoLr parse(String s) {
        String t = s.trim().toLowerCase(java.util.Locale.ROOT);
        if (!t.startsWith("auto")) {
            return null;
        }
        String rest = t.substring(4);
        if (rest.isEmpty()) {
            return defaults();
        }
        if (rest.charAt(0) != ':' && rest.charAt(0) != '*') {
            throw new IllegalArgumentException("--lr " + s + ": write auto or auto:FACTOR (e.g. auto:0.05)");
        }
        try {
            return new AutoLr(Double.parseDouble(rest.substring(1)));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--lr " + s + ": the factor after 'auto:' is not a number");
        }
    }

    /**
     * The learning rate for a tensor whose task vectors have this RMS (over all tasks and elements). A
     * tensor that no task changed (RMS 0) gets the paper's lr: its gradient is 0 and nothing moves anyway.
     */
    public float lrFor(double taskVectorRms) {
        if (!(taskVectorRms > 0) || Double.isInfinite(taskVectorRms)) {
            return AdamConfig.PAPER_LR;
        }
        double lr = factor * taskVectorRms;
        return (float) Math.max(lr, Float.MIN_NORMAL);
    }

    public String describe() {
        return "auto (" + factor + " x task-vector RMS)";
    }
}
