package dev.wudi.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Scores a merged encoder on a fixture folder in the digits6 layout (tests/fixtures/digits6/README.md):
 * h = x; for each encoder layer h = gelu(h W^T + b) (exact GELU, after every layer including the last),
 * then the task's own head, argmax; accuracy in percent per task. Computed in double so that the score
 * does not depend on summation order.
 *
 * <p>Layout: fixture.json ({"tasks": [{"name": ...}, ...]}), base.safetensors with the encoder layers
 * PREFIX{1,2,...}.weight / .bias (numbered, e.g. enc.fc1), task_NAME.safetensors, heads_NAME.safetensors
 * (head.weight, head.bias), tests.safetensors (X_NAME F32 [n, in], y_NAME I64 [n]).
 */
public final class FixtureScorer {

    private static final Pattern LAYER = Pattern.compile("^(.*?)(\\d+)\\.weight$");

    private final Path dir;
    private final List<String> tasks = new ArrayList<>();
    private final List<String> layers = new ArrayList<>();

    private FixtureScorer(Path dir) {
        this.dir = dir;
    }

    /** Opens a fixture folder and checks that every file the layout needs is there. */
    public static FixtureScorer open(Path dir) throws IOException {
        FixtureScorer s = new FixtureScorer(dir);
        Path json = dir.resolve("fixture.json");
        if (!Files.isRegularFile(json)) {
            throw new IOException(dir + " is not a fixture folder in the digits6 layout: no fixture.json");
        }
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        JsonNode ts = root.get("tasks");
        if (ts == null || !ts.isArray() || ts.isEmpty()) {
            throw new IOException(json + " has no \"tasks\" array");
        }
        for (JsonNode t : ts) {
            s.tasks.add(t.get("name").asText());
        }
        try (SafetensorsFile base = SafetensorsFile.open(s.base())) {
            TreeMap<Integer, String> byIndex = new TreeMap<>();
            for (TensorInfo t : base.tensors()) {
                Matcher m = LAYER.matcher(t.name());
                if (t.rank() == 2 && m.matches() && base.contains(m.group(1) + m.group(2) + ".bias")) {
                    byIndex.put(Integer.parseInt(m.group(2)), m.group(1) + m.group(2));
                }
            }
            if (byIndex.isEmpty()) {
                throw new IOException(s.base() + " has no numbered encoder layers (PREFIX1.weight, PREFIX1.bias, ...)");
            }
            s.layers.addAll(byIndex.values());
        }
        for (String t : s.tasks) {
            for (Path p : List.of(s.model(t), s.head(t))) {
                if (!Files.isRegularFile(p)) {
                    throw new IOException("fixture " + dir + " lacks " + p.getFileName() + " for task " + t);
                }
            }
        }
        return s;
    }

    public Path dir() {
        return dir;
    }

    public List<String> tasks() {
        return List.copyOf(tasks);
    }

    /** The encoder layers' names in forward order, e.g. enc.fc1, enc.fc2, enc.fc3. */
    public List<String> layers() {
        return List.copyOf(layers);
    }

    public Path base() {
        return dir.resolve("base.safetensors");
    }

    public Path model(String task) {
        return dir.resolve("task_" + task + ".safetensors");
    }

    public List<Path> models() {
        List<Path> out = new ArrayList<>();
        tasks.forEach(t -> out.add(model(t)));
        return out;
    }

    private Path head(String task) {
        return dir.resolve("heads_" + task + ".safetensors");
    }

    /** Accuracy (%) of the encoder in the file on each task, in task order. */
    public double[] accuracy(Path encoder) throws IOException {
        double[] acc = new double[tasks.size()];
        try (SafetensorsFile enc = SafetensorsFile.open(encoder);
             SafetensorsFile tests = SafetensorsFile.open(dir.resolve("tests.safetensors"))) {
            for (int k = 0; k < tasks.size(); k++) {
                String task = tasks.get(k);
                try (SafetensorsFile head = SafetensorsFile.open(head(task))) {
                    acc[k] = accuracy(enc, head, tests, task);
                }
            }
        }
        return acc;
    }

    public static double mean(double[] a) {
        double s = 0;
        for (double v : a) {
            s += v;
        }
        return s / a.length;
    }

    private double accuracy(SafetensorsFile enc, SafetensorsFile head, SafetensorsFile tests, String task)
            throws IOException {
        TensorInfo xi = tests.tensor("X_" + task);
        int n = (int) xi.shape()[0];
        int dim = (int) xi.shape()[1];
        float[] x = floats(tests, xi);
        double[] h = new double[n * dim];
        for (int i = 0; i < h.length; i++) {
            h[i] = x[i];
        }
        int width = dim;
        for (String layer : layers) {
            h = linear(enc, layer, h, n, width, true);
            width = h.length / n;
        }
        double[] logits = linear(head, "head", h, n, width, false);
        int classes = logits.length / n;
        long[] y = longs(tests, tests.tensor("y_" + task));
        int correct = 0;
        for (int s = 0; s < n; s++) {
            int arg = 0;
            for (int c = 1; c < classes; c++) {
                if (logits[s * classes + c] > logits[s * classes + arg]) {
                    arg = c;
                }
            }
            if (arg == y[s]) {
                correct++;
            }
        }
        return 100.0 * correct / n;
    }

    /** h W^T + b (then GELU) for h [n, in], W [out, in]. */
    private static double[] linear(SafetensorsFile f, String layer, double[] h, int n, int in, boolean gelu)
            throws IOException {
        TensorInfo wi = f.tensor(layer + ".weight");
        int out = (int) wi.shape()[0];
        if (wi.shape()[1] != in) {
            throw new IOException(f.path() + ": " + layer + ".weight is " + wi.shapeString() + ", input width is " + in);
        }
        float[] w = floats(f, wi);
        float[] b = floats(f, f.tensor(layer + ".bias"));
        double[] r = new double[n * out];
        for (int s = 0; s < n; s++) {
            for (int o = 0; o < out; o++) {
                double z = b[o];
                for (int i = 0; i < in; i++) {
                    z += h[s * in + i] * w[o * in + i];
                }
                r[s * out + o] = gelu ? Erf.gelu(z) : z;
            }
        }
        return r;
    }

    private static float[] floats(SafetensorsFile f, TensorInfo t) throws IOException {
        float[] a = new float[(int) t.numel()];
        f.readFloats(t, 0, a, 0, a.length);
        return a;
    }

    private static long[] longs(SafetensorsFile f, TensorInfo t) throws IOException {
        if (t.dtype() != DType.I64) {
            throw new IOException(f.path() + ": " + t.name() + " is " + t.dtype() + ", labels must be I64");
        }
        ByteBuffer b = ByteBuffer.allocate((int) t.byteSize());
        f.readBytes(t, 0, b);
        b.flip().order(ByteOrder.LITTLE_ENDIAN);
        long[] y = new long[(int) t.numel()];
        b.asLongBuffer().get(y);
        return y;
    }
}
