package dev.wudi.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.math3.special.Erf;

/**
 * Scores an encoder on the digits6 fixture as its README says: h = x; for each layer h = gelu(h W^T + b)
 * (exact GELU, after every layer including the last), then the task's own head, argmax. Computed in
 * double so the score does not depend on summation order.
 */
final class Digits6 {

    static final String[] LAYERS = {"enc.fc1", "enc.fc2", "enc.fc3"};

    final Path dir;
    final List<String> tasks = new ArrayList<>();

    Digits6(Path dir) throws IOException {
        this.dir = dir;
        JsonNode root = new ObjectMapper().readTree(dir.resolve("fixture.json").toFile());
        for (JsonNode t : root.get("tasks")) {
            tasks.add(t.get("name").asText());
        }
    }

    Path base() {
        return dir.resolve("base.safetensors");
    }

    List<Path> models() {
        List<Path> out = new ArrayList<>();
        for (String t : tasks) {
            out.add(dir.resolve("task_" + t + ".safetensors"));
        }
        return out;
    }

    Path reference(String name) {
        return dir.resolve("reference").resolve(name);
    }

    /** Accuracy (%) of the encoder in file `encoder` on each task, in task order. */
    double[] accuracy(Path encoder) throws IOException {
        double[] acc = new double[tasks.size()];
        try (SafetensorsFile enc = SafetensorsFile.open(encoder);
             SafetensorsFile tests = SafetensorsFile.open(dir.resolve("tests.safetensors"))) {
            for (int k = 0; k < tasks.size(); k++) {
                String task = tasks.get(k);
                try (SafetensorsFile head = SafetensorsFile.open(dir.resolve("heads_" + task + ".safetensors"))) {
                    acc[k] = accuracy(enc, head, tests, task);
                }
            }
        }
        return acc;
    }

    private static double accuracy(SafetensorsFile enc, SafetensorsFile head, SafetensorsFile tests, String task)
            throws IOException {
        TensorInfo xi = tests.tensor("X_" + task);
        int n = (int) xi.shape()[0];
        int dim = (int) xi.shape()[1];
        double[][] h = new double[n][];
        float[] x = floats(tests, xi);
        for (int s = 0; s < n; s++) {
            h[s] = new double[dim];
            for (int j = 0; j < dim; j++) {
                h[s][j] = x[s * dim + j];
            }
        }
        for (String layer : LAYERS) {
            h = linear(enc, layer, h, true);
        }
        double[][] logits = linear(head, "head", h, false);
        long[] y = longs(tests, tests.tensor("y_" + task));
        int correct = 0;
        for (int s = 0; s < n; s++) {
            int arg = 0;
            for (int c = 1; c < logits[s].length; c++) {
                if (logits[s][c] > logits[s][arg]) {
                    arg = c;
                }
            }
            if (arg == y[s]) {
                correct++;
            }
        }
        return 100.0 * correct / n;
    }

    private static double[][] linear(SafetensorsFile f, String layer, double[][] h, boolean gelu) throws IOException {
        TensorInfo wi = f.tensor(layer + ".weight");
        int out = (int) wi.shape()[0];
        int in = (int) wi.shape()[1];
        float[] w = floats(f, wi);
        float[] b = floats(f, f.tensor(layer + ".bias"));
        double[][] r = new double[h.length][out];
        for (int s = 0; s < h.length; s++) {
            for (int o = 0; o < out; o++) {
                double z = b[o];
                for (int i = 0; i < in; i++) {
                    z += h[s][i] * w[o * in + i];
                }
                r[s][o] = gelu ? 0.5 * z * (1 + Erf.erf(z / Math.sqrt(2))) : z;
            }
        }
        return r;
    }

    static float[] floats(SafetensorsFile f, TensorInfo t) throws IOException {
        float[] a = new float[(int) t.numel()];
        f.readFloats(t, 0, a, 0, a.length);
        return a;
    }

    private static long[] longs(SafetensorsFile f, TensorInfo t) throws IOException {
        if (t.dtype() != DType.I64) {
            throw new IOException(t + " is not I64");
        }
        ByteBuffer b = ByteBuffer.allocate((int) t.byteSize());
        f.readBytes(t, 0, b);
        b.flip().order(ByteOrder.LITTLE_ENDIAN);
        long[] y = new long[(int) t.numel()];
        b.asLongBuffer().get(y);
        return y;
    }

    static double mean(double[] a) {
        double s = 0;
        for (double v : a) {
            s += v;
        }
        return s / a.length;
    }
}
