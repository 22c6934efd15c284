package dev.wudi.hub;

import java.util.Random;

/**
 * Deterministic random tensors. Each tensor draws from its own generator, seeded by the model seed and
 * the tensor's name, so a tensor's values do not depend on which other tensors a model has: layer 0 of
 * a 1-layer and of a 2-layer model built with one seed are equal, and growing a size elsewhere changes
 * nothing else.
 */
final class SeededInit {

    /** The standard deviation transformers' initializer_range gives these models. */
    static final double STD = 0.02;

    private SeededInit() {
    }

    static Random random(long seed, String name) {
        // String.hashCode is fixed by the language spec, so the seed is stable across runs and JVMs.
        return new Random(seed * 0x9E3779B97F4A7C15L + name.hashCode());
    }

    /** Gaussian entries with the given standard deviation. */
    static Tensor normal(long seed, String name, double std, long... shape) {
        Tensor t = Tensor.zeros(shape);
        Random r = random(seed, name);
        float[] a = t.data();
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (r.nextGaussian() * std);
        }
        return t;
    }

    /** A weight matrix (or bias) at the usual initializer range. */
    static Tensor weight(long seed, String name, long... shape) {
        return normal(seed, name, STD, shape);
    }

    /**
     * A norm's scale: ones plus noise. Exactly-one scales would make every norm identical across
     * models and hide a merge that mixes them up.
     */
    static Tensor normScale(long seed, String name, long size) {
        Tensor t = normal(seed, name, STD, size);
        float[] a = t.data();
        for (int i = 0; i < a.length; i++) {
            a[i] += 1f;
        }
        return t;
    }
}
