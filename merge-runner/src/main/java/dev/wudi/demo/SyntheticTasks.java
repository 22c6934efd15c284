package dev.wudi.demo;

import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A small multi-task set built from scratch, with the structure WUDI relies on: a base stack of linear
 * layers (tanh between them), and n tasks, each fine-tuned by gradient descent on inputs drawn from its
 * own low-dimensional subspace. A layer's update is a sum of (error x input^T) terms, so the rows of each
 * task vector lie in the span of the inputs that task feeds that layer (the paper's premise).
 *
 * Scale: fine-tuning moves weights by about 1e-3 RMS, like CLIP fine-tunes, which the paper's Adam
 * learning rate (1e-5) was tuned for.
 */
public final class SyntheticTasks {

    /** Width of every layer. */
    public final int width;
    public final int layers;
    public final int tasks;
    /** Dimension of each task's input subspace. */
    public final int rank;
    public final int samples;

    /** base[l] is layer l's weight, [width, width] row-major. */
    final float[][] base;
    /** tuned[i][l]: task i's fine-tuned layer l. */
    final float[][][] tuned;
    /** inputs[i]: task i's inputs, [samples, width] row-major (a held-out draw, not the training set). */
    final float[][] inputs;

    private SyntheticTasks(int width, int layers, int tasks, int rank, int samples, float[][] base,
                           float[][][] tuned, float[][] inputs) {
        this.width = width;
        this.layers = layers;
        this.tasks = tasks;
        this.rank = rank;
        this.samples = samples;
        this.base = base;
        this.tuned = tuned;
        this.inputs = inputs;
    }

    /**
     * Builds the set deterministically from seed: base weights ~ N(0, 1/width); task i's teacher is the
     * base plus a random change of relative size changeScale; each task is fine-tuned from the base by
     * full-batch gradient descent on the mean squared error to its teacher.
     */
    public static SyntheticTasks build(int width, int layers, int tasks, int rank, int samples, double changeScale,
                                       long seed) {
        Random rnd = new Random(seed);
        float[][] base = new float[layers][];
        for (int l = 0; l < layers; l++) {
            base[l] = gaussian(rnd, width * width, 1.0 / Math.sqrt(width));
        }
        float[][][] tuned = new float[tasks][][];
        float[][] heldOut = new float[tasks][];
        for (int i = 0; i < tasks; i++) {
            float[] basis = orthonormalColumns(rnd, width, rank);
            float[] train = subspaceSamples(rnd, basis, width, rank, samples);
            heldOut[i] = subspaceSamples(rnd, basis, width, rank, samples);
            float[][] teacher = new float[layers][];
            for (int l = 0; l < layers; l++) {
                float[] delta = gaussian(rnd, width * width, changeScale / Math.sqrt(width));
                teacher[l] = base[l].clone();
                for (int j = 0; j < delta.length; j++) {
                    teacher[l][j] += delta[j];
                }
            }
            float[] target = forward(teacher, train, samples, width);
            tuned[i] = fineTune(base, train, target, samples, width, 300, 0.05f);
        }
        return new SyntheticTasks(width, layers, tasks, rank, samples, base, tuned, heldOut);
    }

    /**
     * The same set with every task vector multiplied by factor (fine-tunes W_0 + factor (W_i - W_0)),
     * to study how a solver depends on the task vectors' scale; the held-out inputs are shared.
     */
    public SyntheticTasks scaled(double factor) {
        float[][][] t = new float[tasks][layers][];
        for (int i = 0; i < tasks; i++) {
            for (int l = 0; l < layers; l++) {
                float[] w = new float[base[l].length];
                for (int j = 0; j < w.length; j++) {
                    w[j] = (float) (base[l][j] + factor * ((double) tuned[i][l][j] - base[l][j]));
                }
                t[i][l] = w;
            }
        }
        return new SyntheticTasks(width, layers, tasks, rank, samples, base, t, inputs);
    }

    /** Full-batch gradient descent on 0.5/N * ||F(X) - Y||^2, all layers, from the base. */
    private static float[][] fineTune(float[][] base, float[] x, float[] y, int n, int width, int steps, float lr) {
        int layers = base.length;
        float[][] w = new float[layers][];
        for (int l = 0; l < layers; l++) {
            w[l] = base[l].clone();
        }
        float[][] acts = new float[layers + 1][];
        float[][] pre = new float[layers][];
        for (int s = 0; s < steps; s++) {
            acts[0] = x;
            for (int l = 0; l < layers; l++) {
                pre[l] = matmulT(acts[l], w[l], n, width, width);
                acts[l + 1] = l + 1 < layers ? tanh(pre[l]) : pre[l];
            }
            // delta = dLoss/d(pre) of the last layer
            float[] delta = new float[n * width];
            for (int j = 0; j < delta.length; j++) {
                delta[j] = (acts[layers][j] - y[j]) / n;
            }
            for (int l = layers - 1; l >= 0; l--) {
                float[] grad = outerSum(delta, acts[l], n, width); // dW = delta^T h: rows in span of inputs h
                float[] back = null;
                if (l > 0) {
                    back = matmul(delta, w[l], n, width, width);
                    for (int j = 0; j < back.length; j++) {
                        float t = acts[l][j];
                        back[j] *= 1 - t * t; // tanh'
                    }
                }
                for (int j = 0; j < grad.length; j++) {
                    w[l][j] -= lr * grad[j];
                }
                delta = back;
            }
        }
        return w;
    }

    /** F(X) for a stack of weights: tanh between layers, linear last layer. X is [n, width]. */
    static float[] forward(float[][] w, float[] x, int n, int width) {
        float[] h = x;
        for (int l = 0; l < w.length; l++) {
            h = matmulT(h, w[l], n, width, width);
            if (l + 1 < w.length) {
                h = tanh(h);
            }
        }
        return h;
    }

    /** The names the layers have in the checkpoints: "layers.{l}.weight". */
    static String layerName(int l) {
        return "layers." + l + ".weight";
    }

    /** Writes the base and one checkpoint per task into dir; returns [base, task0, task1, ...]. */
    public List<Path> write(Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        out.add(writeStack(dir.resolve("base.safetensors"), base));
        for (int i = 0; i < tasks; i++) {
            out.add(writeStack(dir.resolve("task" + i + ".safetensors"), tuned[i]));
        }
        return out;
    }

    private Path writeStack(Path file, float[][] w) throws IOException {
        List<TensorSpec> specs = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            specs.add(new TensorSpec(layerName(l), DType.F32, new long[] {width, width}));
        }
        try (SafetensorsWriter writer = SafetensorsWriter.create(file, specs, Map.of())) {
            for (float[] layer : w) {
                writer.writeFloats(layer, 0, layer.length);
            }
            writer.finish();
        }
        return file;
    }

    /** RMS of task i's task vector over all layers. */
    public double taskVectorRms(int i) {
        double s = 0;
        long n = 0;
        for (int l = 0; l < layers; l++) {
            for (int j = 0; j < base[l].length; j++) {
                double d = tuned[i][l][j] - base[l][j];
                s += d * d;
                n++;
            }
        }
        return Math.sqrt(s / n);
    }

    // ---- small dense helpers (the demo's sizes are tiny; clarity over speed) ----

    private static float[] gaussian(Random rnd, int n, double std) {
        float[] a = new float[n];
        for (int j = 0; j < n; j++) {
            a[j] = (float) (rnd.nextGaussian() * std);
        }
        return a;
    }

    /** [width, rank] with orthonormal columns (Gram-Schmidt on Gaussian vectors). */
    private static float[] orthonormalColumns(Random rnd, int width, int rank) {
        double[][] cols = new double[rank][width];
        for (int c = 0; c < rank; c++) {
            for (int r = 0; r < width; r++) {
                cols[c][r] = rnd.nextGaussian();
            }
            for (int p = 0; p < c; p++) {
                double dot = 0;
                for (int r = 0; r < width; r++) {
                    dot += cols[c][r] * cols[p][r];
                }
                for (int r = 0; r < width; r++) {
                    cols[c][r] -= dot * cols[p][r];
                }
            }
            double norm = 0;
            for (int r = 0; r < width; r++) {
                norm += cols[c][r] * cols[c][r];
            }
            norm = Math.sqrt(norm);
            for (int r = 0; r < width; r++) {
                cols[c][r] /= norm;
            }
        }
        float[] out = new float[width * rank];
        for (int r = 0; r < width; r++) {
            for (int c = 0; c < rank; c++) {
                out[r * rank + c] = (float) cols[c][r];
            }
        }
        return out;
    }

    /** n samples x = basis z, z ~ N(0, I) scaled so that E||x||^2 = width. */
    private static float[] subspaceSamples(Random rnd, float[] basis, int width, int rank, int n) {
        float[] x = new float[n * width];
        double s = Math.sqrt((double) width / rank);
        for (int k = 0; k < n; k++) {
            double[] z = new double[rank];
            for (int c = 0; c < rank; c++) {
                z[c] = rnd.nextGaussian() * s;
            }
            for (int r = 0; r < width; r++) {
                double v = 0;
                for (int c = 0; c < rank; c++) {
                    v += basis[r * rank + c] * z[c];
                }
                x[k * width + r] = (float) v;
            }
        }
        return x;
    }

    /** X W^T: X [n, in], W [out, in] -> [n, out]. */
    static float[] matmulT(float[] x, float[] w, int n, int in, int out) {
        float[] y = new float[n * out];
        for (int k = 0; k < n; k++) {
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int i = 0; i < in; i++) {
                    s += x[k * in + i] * w[o * in + i];
                }
                y[k * out + o] = (float) s;
            }
        }
        return y;
    }

    /** D W: D [n, out], W [out, in] -> [n, in]. */
    private static float[] matmul(float[] d, float[] w, int n, int out, int in) {
        float[] y = new float[n * in];
        for (int k = 0; k < n; k++) {
            for (int o = 0; o < out; o++) {
                float dv = d[k * out + o];
                for (int i = 0; i < in; i++) {
                    y[k * in + i] += dv * w[o * in + i];
                }
            }
        }
        return y;
    }

    /** sum_k delta_k h_k^T: [out, in]. */
    private static float[] outerSum(float[] delta, float[] h, int n, int width) {
        float[] g = new float[width * width];
        for (int k = 0; k < n; k++) {
            for (int o = 0; o < width; o++) {
                float dv = delta[k * width + o];
                if (dv == 0f) {
                    continue;
                }
                for (int i = 0; i < width; i++) {
                    g[o * width + i] += dv * h[k * width + i];
                }
            }
        }
        return g;
    }

    private static float[] tanh(float[] a) {
        float[] b = new float[a.length];
        for (int j = 0; j < a.length; j++) {
            b[j] = (float) Math.tanh(a[j]);
        }
        return b;
    }
}
