package dev.wudi.bench;

import dev.wudi.backend.Backend;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import dev.wudi.lora.AdapterCheckpoint;
import dev.wudi.lora.LoraAdapter;
import dev.wudi.lora.ZeroBase;
import dev.wudi.spec.MergeSpec;
import dev.wudi.merge.Merger;
import dev.wudi.model.ModelConfig;
import dev.wudi.model.TensorClassifier;
import dev.wudi.solver.SolverSpec;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * A merge of real LoRA adapters against the same merge of their dense full fine-tunes, same solver, same run, same
 * machine. The base holds the adapted weights only (each a seeded N(0, 0.02) matrix of the shape the adapters adapt;
 * no embeddings or heads, which both merges would copy alike); each dense fine-tune is that base + scaling B A,
 * written in float32. Each merge runs twice, alternately; the faster run of each is reported, with the largest
 * difference between the two outputs relative to the merged delta as a check that they computed the same thing.
 */
public final class AdapterMergeBench {

    private AdapterMergeBench() {
    }

    public static void run(PrintStream out, Backend backend, List<Path> adapterDirs, SolverSpec solver, Path work,
                           int threads) throws IOException {
        Files.createDirectories(work);
        Path base = work.resolve("base.safetensors");
        List<Path> dense = new ArrayList<>();
        long adaptedWeights;
        List<LoraAdapter> adapters = new ArrayList<>();
        try {
            for (Path p : adapterDirs) {
                adapters.add(LoraAdapter.open(p));
            }
            try (Checkpoint shapes = ZeroBase.of(adapters)) {
                adaptedWeights = shapes.names().size();
                writeRandomBase(shapes, base);
            }
            try (Checkpoint b = Checkpoint.open(base)) {
                List<dev.wudi.format.TensorInfo> infos = new ArrayList<>();
                b.names().forEach(n -> infos.add(b.tensor(n).info()));
                TensorClassifier c = new TensorClassifier(ModelConfig.absent(), List.of(), infos);
                for (int i = 0; i < adapters.size(); i++) {
                    Path d = work.resolve("dense-" + (i + 1) + ".safetensors");
                    // not closed here: it owns the adapter's file, which the adapter closes below
                    Checkpoint m = AdapterCheckpoint.over(b, adapters.get(i), ModelConfig.absent(),
                            t -> c.classify(t).layout());
                    writeAll(m, b.names(), d);           // W_0 + scaling B A in float32: the full fine-tune
                    dense.add(d);
                }
            }
        } finally {
            adapters.forEach(LoraAdapter::close);
        }
        out.printf(Locale.ROOT, "%d adapters, %d adapted weights, solver %s, %s%n", adapterDirs.size(), adaptedWeights,
                solver.describe(), backend.describe());
        double[] a = new double[2];
        double[] d = new double[2];
        for (int rep = 0; rep < 2; rep++) {
            a[rep] = time(backend, base, adapterDirs, work.resolve("out-adapters.safetensors"), solver, threads);
            d[rep] = time(backend, base, dense, work.resolve("out-dense.safetensors"), solver, threads);
        }
        double ta = Math.min(a[0], a[1]);
        double td = Math.min(d[0], d[1]);
        double diff = relativeDifference(base, work.resolve("out-adapters.safetensors"),
                work.resolve("out-dense.safetensors"));
        out.printf(Locale.ROOT, "| adapters as --model | dense full fine-tunes | ratio | max rel. difference |%n");
        out.printf(Locale.ROOT, "| %.2f s (%.2f, %.2f) | %.2f s (%.2f, %.2f) | %.1fx | %.1e |%n", ta, a[0], a[1], td,
                d[0], d[1], td / ta, diff);
    }

    private static double time(Backend backend, Path base, List<Path> models, Path out, SolverSpec solver,
                               int threads) throws IOException {
        MergeSpec o = MergeSpec.builder(base, models, out).solver(solver).threads(threads).force(true).build();
        long t0 = System.nanoTime();
        new Merger(o, backend, null).run();
        return (System.nanoTime() - t0) / 1e9;
    }

    private static void writeRandomBase(Checkpoint shapes, Path file) throws IOException {
        List<TensorSpec> specs = new ArrayList<>();
        for (String n : shapes.names()) {
            specs.add(new TensorSpec(n, DType.F32, shapes.tensor(n).info().shape()));
        }
        Random r = new Random(42);
        try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, Map.of("format", "pt"))) {
            for (String n : shapes.names()) {
                float[] v = new float[Math.toIntExact(shapes.tensor(n).info().numel())];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (0.02 * r.nextGaussian());
                }
                w.writeFloats(v, 0, v.length);
            }
            w.finish();
        }
    }

    private static void writeAll(Checkpoint m, List<String> names, Path file) throws IOException {
        List<TensorSpec> specs = new ArrayList<>();
        for (String n : names) {
            specs.add(new TensorSpec(n, DType.F32, m.tensor(n).info().shape()));
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(file, specs, Map.of("format", "pt"))) {
            for (String n : names) {
                TensorRef t = m.tensor(n);
                float[] v = new float[Math.toIntExact(t.info().numel())];
                t.readAll(v);
                w.writeFloats(v, 0, v.length);
            }
            w.finish();
        }
    }

    /** max over tensors of ||A - D||_F / ||D - W_0||_F. */
    private static double relativeDifference(Path base, Path x, Path y) throws IOException {
        double worst = 0;
        try (Checkpoint b = Checkpoint.open(base); Checkpoint a = Checkpoint.open(x); Checkpoint d = Checkpoint.open(y)) {
            for (String n : b.names()) {
                int len = Math.toIntExact(b.tensor(n).info().numel());
                float[] w0 = new float[len];
                float[] p = new float[len];
                float[] q = new float[len];
                b.tensor(n).readAll(w0);
                a.tensor(n).readAll(p);
                d.tensor(n).readAll(q);
                double diff = 0;
                double tau = 0;
                for (int i = 0; i < len; i++) {
                    diff += Math.pow((double) p[i] - q[i], 2);
                    tau += Math.pow((double) q[i] - w0[i], 2);
                }
                if (tau > 0) {
                    worst = Math.max(worst, Math.sqrt(diff / tau));
                }
            }
        }
        return worst;
    }
}
