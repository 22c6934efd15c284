package dev.wudi.merge;

import dev.wudi.checkpoint.Version;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.CardPolicy;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.CheckpointWriter;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.lora.AdapterWriter;
import dev.wudi.lora.LoraAdapter;
import dev.wudi.lora.LoraTensor;
import dev.wudi.lora.LowRankWudi;
import dev.wudi.lora.TruncatedSvd;
import dev.wudi.method.TensorJob;
import dev.wudi.method.TensorOutcome;
import dev.wudi.method.TensorRule;
import dev.wudi.method.TensorSink;
import dev.wudi.method.Transpose;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * A merge of LoRA adapters written as a LoRA adapter (--as-adapter). Every tensor is computed as in a full merge
 * (same plan, same rules); then each adapted weight's merged delta tau_m = W - W_0 becomes LoRA factors:
 * <ul>
 *   <li>exact, flow and spectral WUDI solved on the adapters' factors give tau_m = x U^T exactly
 *       ({@link LowRankWudi}): B = x, A = U^T, rank = the sum of the adapters' ranks, no approximation;</li>
 *   <li>any other computation (Adam, whose element-wise steps leave the factors' span; element-wise methods) is
 *       truncated by SVD to --adapter-rank (default: the sum of the adapters' ranks), the relative error of each
 *       tensor in the report.</li>
 * </ul>
 * Tensors that are not adapted weights are written in full (modules_to_save) where the merge changes them: task heads
 * (--heads from:K) and the adapters' full tensors; what the merge leaves as the base's is not written. Every module's
 * scaling is 1 (lora_alpha = r, per module through rank_pattern and alpha_pattern). The folder is written under a
 * temporary name and renamed into place when complete; an interrupted adapter merge leaves nothing (no --resume).
 */
final class AdapterMerge {

    private final MergeSpec options;
    private final MergePlan plan;
    private final Checkpoint base;
    private final List<Checkpoint> models;
    private final List<LoraAdapter> adapters;
    private final MergeListener listener;
    private final Cancellation cancel;
    /** --allow-nonfinite: the inputs may hold NaN/Inf, and so may the result. */
    private final boolean allowNonFinite;

    AdapterMerge(MergeSpec options, MergePlan plan, Checkpoint base, List<Checkpoint> models,
                 List<LoraAdapter> adapters, MergeListener listener, Cancellation cancel, boolean allowNonFinite) {
        this.allowNonFinite = allowNonFinite;
        this.options = options;
        this.plan = plan;
        this.base = base;
        this.models = models;
        this.adapters = adapters;
        this.listener = listener;
        this.cancel = cancel;
    }

    /** What was written, for the report: one record per computed tensor and the summary lines. */
    record Result(List<TensorRecord> records, List<String> notes, long bytes) {
    }

    Result run(Function<MergePlan.Entry, TensorRule> ruleOf, Function<MergePlan.Entry, TensorJob> jobOf,
               String methodDescription) throws IOException {
        List<MergePlan.Entry> entries = plan.entries();
        List<AdapterWriter.Module> modules = new ArrayList<>();
        List<AdapterWriter.Full> full = new ArrayList<>();
        List<TensorRecord> records = new ArrayList<>();
        Map<String, Integer> ranks = new LinkedHashMap<>();
        Map<String, String> fullNames = adapterNamesOfFullTensors();
        String prefix = null;
        int exact = 0;
        List<Double> errors = new ArrayList<>();
        Set<Integer> svdRanks = new java.util.TreeSet<>();
        int zeroDeltas = 0;
        long work = 0;
        for (MergePlan.Entry e : entries) {
            work += CostModel.work(e, options);
        }
        listener.started(entries.size(), work);
        for (int index = 0; index < entries.size(); index++) {
            cancel.check();
            MergePlan.Entry e = entries.get(index);
            LoraTensor lora = loraOf(e);
            boolean untouched = e.sources().isEmpty() || e.sources().stream().allMatch(r -> r == e.base());
            if (e.action() == MergePlan.Action.COPY || (lora == null && untouched
                    && e.action() != MergePlan.Action.FROM_MODEL)) {
                continue;                               // the adapter leaves it as the base's
            }
            TensorRule rule = ruleOf.apply(e);
            listener.tensorStarted(index, e.name(), rule.label());
            long t0 = System.nanoTime();
            Capture sink = new Capture(e.numel(), e.outDType(), cancel);
            TensorJob job = jobOf.apply(e);
            TensorOutcome outcome = rule.apply(job, sink);
            requireFinite(e, rule, job, sink.values);
            Map<String, Double> details = new LinkedHashMap<>(outcome.details());
            if (lora != null && !e.grown()) {
                if (prefix == null) {
                    prefix = prefixOf(lora.module().module() + ".weight", e.name());
                }
                AdapterWriter.Module m = factors(e, lora, outcome, sink.values, details);
                if (m == null) {
                    zeroDeltas++;
                } else {
                    modules.add(m);
                    ranks.put(m.module(), (int) m.aShape()[0]);
                    if (outcome.lowRank() != null) {
                        exact++;
                    } else {
                        errors.add(details.get("adapter_relative_error"));
                        svdRanks.add((int) m.aShape()[0]);
                    }
                }
            } else if (e.action() == MergePlan.Action.FROM_MODEL || differsFromBase(e, sink.values)) {
                String name = fullNames.get(sourceKey(e));
                full.add(new AdapterWriter.Full(name != null ? name : (prefix == null ? "" : prefix) + e.name(),
                        sink.values, e.outShape().clone()));
            }
            List<Integer> zeros = new ArrayList<>();
            for (int k : outcome.zeroTaskVectors()) {
                if (e.sources().get(k) != e.base()) {
                    zeros.add(e.models().get(k) + 1);
                }
            }
            TensorRecord rec = new TensorRecord(e.name(), rule.label(), e.outShape().clone(), "F32",
                    outcome.lossBefore(), outcome.lossAfter(), (System.nanoTime() - t0) / 1e9, details,
                    e.role().label(), e.layout().label(), List.of(), zeros);
            records.add(rec);
            listener.tensorDone(rec, CostModel.work(e, options));
        }
        cancel.check();
        if (modules.isEmpty() && full.isEmpty()) {
            throw new dev.wudi.checkpoint.CheckpointException("the merge changes no tensor of the base (every merged"
                    + " delta is zero): there is no adapter to write");
        }
        List<String> notes = new ArrayList<>();
        if (exact > 0) {
            notes.add("adapter: " + exact + " module" + (exact == 1 ? "" : "s") + " exact: the merged delta lies in the"
                    + " span of the adapters' factors, written at rank <= the sum of their ranks");
        }
        if (!errors.isEmpty()) {
            double max = errors.stream().mapToDouble(Double::doubleValue).max().orElse(0);
            double mean = errors.stream().mapToDouble(Double::doubleValue).average().orElse(0);
            String used = svdRanks.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining("/"));
            notes.add(String.format(java.util.Locale.ROOT, "adapter: %d module%s truncated by SVD to rank %s (%s):"
                    + " relative error of B A against the merged delta max %.3g, mean %.3g (per tensor in the report)",
                    errors.size(), errors.size() == 1 ? "" : "s", used, options.asAdapter().rank() > 0
                            ? "--adapter-rank" : "the sum of the adapters' ranks; --adapter-rank R to change", max, mean));
        }
        if (zeroDeltas > 0) {
            notes.add("adapter: " + zeroDeltas + " adapted weight" + (zeroDeltas == 1 ? "" : "s")
                    + " with a zero merged delta left out");
        }
        long bytes = write(modules, full, ranks, methodDescription, notes);
        return new Result(records, notes, bytes);
    }

    /** The first LoRA tensor among the entry's sources (the module name and layout of the output come from it). */
    private static LoraTensor loraOf(MergePlan.Entry e) {
        for (TensorRef r : e.sources()) {
            if (r.computed() instanceof LoraTensor t && r.deltaOver(e.base()) != null) {
                return t;
            }
        }
        return null;
    }

    /** The merged delta of an adapted weight as factors, or null where it is zero. */
    private AdapterWriter.Module factors(MergePlan.Entry e, LoraTensor lora, TensorOutcome outcome, float[] merged,
                                         Map<String, Double> details) throws IOException {
        LoraAdapter.Module mod = lora.module();
        int out = Math.toIntExact(mod.out());
        int in = Math.toIntExact(mod.in());
        float[] b;
        float[] a;
        int r;
        if (outcome.lowRank() != null) {
            LowRankWudi.Solution s = outcome.lowRank();
            boolean paperTransposed = e.layout().matrices(e.outShape()).transposed();
            r = s.r();
            if (lora.transposed() == paperTransposed) {  // the paper's [out, in] is B A's orientation
                b = s.x();
                a = s.basis();
            } else {                                     // an embedding: the paper's matrix is (B A)^T
                b = transpose(s.basis(), r, s.cols());
                a = transpose(s.x(), s.rows(), r);
            }
            details.put("adapter_rank", (double) r);
            details.put("adapter_relative_error", 0.0);
            if (allZero(s.x())) {
                return null;
            }
        } else {
            float[] w0 = new float[merged.length];
            e.base().readAll(w0);
            float[] tau = new float[merged.length];
            for (int j = 0; j < tau.length; j++) {
                tau[j] = merged[j] - w0[j];                // tau_m = W - W_0
            }
            if (allZero(tau)) {
                return null;
            }
            if (lora.transposed()) {                       // stored (B A)^T: [in, out]
                tau = transpose(tau, in, out);
            }
            int rank = options.asAdapter().rank() > 0 ? options.asAdapter().rank() : sumOfRanks(e);
            TruncatedSvd.Factors f = TruncatedSvd.of(tau, out, in, rank);
            b = f.b();
            a = f.a();
            r = f.rank();
            details.put("adapter_rank", (double) r);
            details.put("adapter_relative_error", f.relativeError());
        }
        long[] as = mod.a().info().shape().clone();
        long[] bs = mod.b().info().shape().clone();
        as[0] = r;
        bs[1] = r;
        return new AdapterWriter.Module(mod.module(), mod.embedding(), a, as, b, bs);
    }

    private static int sumOfRanks(MergePlan.Entry e) {
        int r = 0;
        for (TensorRef s : e.sources()) {
            if (s.computed() instanceof LoraTensor t) {
                r += t.module().rank();
            }
        }
        return r;
    }

    private static boolean differsFromBase(MergePlan.Entry e, float[] merged) throws IOException {
        if (e.base() == null || !Arrays.equals(e.base().info().shape(), e.outShape())) {
            return true;
        }
        float[] w0 = new float[merged.length];
        e.base().readAll(w0);
        return Arrays.mismatch(w0, merged) >= 0;
    }

    /** The adapters' own names of their full tensors, by (file, tensor) of the reference. */
    private Map<String, String> adapterNamesOfFullTensors() {
        Map<String, String> out = new LinkedHashMap<>();
        for (LoraAdapter a : adapters) {
            if (a != null) {
                a.fullTensors().forEach((n, r) -> out.putIfAbsent(r.path() + "#" + r.name(), n));
            }
        }
        return out;
    }

    private static String sourceKey(MergePlan.Entry e) {
        for (TensorRef r : e.sources()) {
            if (r != e.base() && r.computed() == null) {
                return r.path() + "#" + r.name();
            }
        }
        return "";
    }

    /** What the adapter's names have before the base's: "transformer." for GPT-2's own file, else "". */
    private static String prefixOf(String adapterName, String baseName) {
        return adapterName.endsWith(baseName) ? adapterName.substring(0, adapterName.length() - baseName.length()) : "";
    }

    private long write(List<AdapterWriter.Module> modules, List<AdapterWriter.Full> full, Map<String, Integer> ranks,
                       String methodDescription, List<String> notes) throws IOException {
        Path out = options.out().toAbsolutePath().normalize();
        Path tmp = CheckpointWriter.partialPath(out);
        if (Files.exists(tmp, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            listener.info("removed the partial output an earlier run left at " + tmp);
        }
        CheckpointWriter.deleteRecursively(tmp);
        Files.createDirectories(tmp);
        try {
            DType dtype = options.outDType() != null ? options.outDType() : DType.F32;
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("wudi_method", methodDescription);
            meta.put("wudi_version", Version.get());
            AdapterWriter.write(tmp, modules, full, config(ranks, full), dtype, meta);
            new OutputFiles(options, plan, base, models).writeHeads(tmp);
            if (options.card() != CardPolicy.NONE) {
                Files.writeString(tmp.resolve(OutputFiles.CARD), card(methodDescription, notes, modules.size()));
            }
            long bytes = Files.size(tmp.resolve(LoraAdapter.WEIGHTS));
            cancel.check();
            // checked before the merge began; checked again: something may have been put there since
            dev.wudi.checkpoint.OutputGuard.checkReplaceable(OutputCheck.outTarget(options, base), options.force());
            if (Files.exists(out)) {
                CheckpointWriter.deleteRecursively(out);
            }
            Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE);
            return bytes;
        } catch (IOException | RuntimeException ex) {
            CheckpointWriter.deleteRecursively(tmp);
            throw ex;
        }
    }

    /** adapter_config.json: scaling 1 everywhere (lora_alpha = r, per module where ranks differ). */
    private ObjectNode config(Map<String, Integer> ranks, List<AdapterWriter.Full> full) {
        Map<Integer, Integer> count = new TreeMap<>();
        ranks.values().forEach(r -> count.merge(r, 1, Integer::sum));
        int common = count.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(1);
        LoraAdapter first = adapters.stream().filter(a -> a != null).findFirst().orElseThrow();
        ObjectNode c = JsonNodeFactory.instance.objectNode();
        c.put("peft_type", "LORA");
        c.put("task_type", agreed(a -> a.config().taskType()));
        c.put("base_model_name_or_path", agreed(a -> a.config().baseModel()));
        c.put("r", common);
        c.put("lora_alpha", common);
        ObjectNode rp = c.putObject("rank_pattern");
        ObjectNode ap = c.putObject("alpha_pattern");
        ranks.forEach((m, r) -> {
            if (r != common) {
                rp.put(m, r);
                ap.put(m, r);
            }
        });
        ranks.keySet().forEach(c.putArray("target_modules")::add);
        Set<String> save = new LinkedHashSet<>();
        for (AdapterWriter.Full f : full) {
            int dot = f.name().lastIndexOf('.');
            save.add(dot < 0 ? f.name() : f.name().substring(0, dot));
        }
        if (save.isEmpty()) {
            c.putNull("modules_to_save");
        } else {
            save.forEach(c.putArray("modules_to_save")::add);
        }
        c.put("fan_in_fan_out", first.config().fanInFanOut());
        c.put("bias", "none");
        c.put("use_rslora", false);
        c.put("use_dora", false);
        c.put("lora_dropout", 0.0);
        c.put("init_lora_weights", true);
        c.put("inference_mode", true);
        return c;
    }

    /** The adapters' common value of a setting, or null where they differ or none has it. */
    private String agreed(Function<LoraAdapter, String> f) {
        Set<String> values = new LinkedHashSet<>();
        adapters.forEach(a -> values.add(a == null ? null : f.apply(a)));
        return values.size() == 1 ? values.iterator().next() : null;
    }

    private String card(String method, List<String> notes, int moduleCount) {
        StringBuilder s = new StringBuilder();
        s.append("---\nlibrary_name: peft\ntags:\n- merge\n- wudi\n- lora\n---\n\n");
        s.append("# Merged LoRA adapter\n\n");
        s.append("This adapter merges ").append(models.size()).append(" LoRA adapters with ").append(method)
                .append(" (WUDI-Merging, arXiv 2503.08099) and holds the merged change of ").append(moduleCount)
                .append(" modules as LoRA factors (scaling 1). Load it with PEFT on the base model the inputs were"
                        + " trained on.\n\n## Inputs\n\n");
        for (int i = 0; i < models.size(); i++) {
            LoraAdapter a = adapters.get(i);
            s.append("- model ").append(i + 1).append(": `").append(models.get(i).path()).append("`")
                    .append(a == null ? "" : " (" + a.describe() + ")").append('\n');
        }
        s.append("\n## How the merged delta became an adapter\n\n");
        notes.forEach(n -> s.append("- ").append(n).append('\n'));
        s.append("\n## Reproduce\n\n```\n").append(options.command() != null ? options.command()
                : dev.wudi.spec.ReproduceCommand.of(options)).append("\n```\n");
        return s.toString();
    }

    private static boolean allZero(float[] v) {
        for (float x : v) {
            if (x != 0f) {
                return false;
            }
        }
        return true;
    }

    /** A computed tensor that is not finite in the adapter's dtype stops the merge, as for a full model. */
    private void requireFinite(MergePlan.Entry e, TensorRule rule, TensorJob job, float[] values) {
        DType dtype = options.outDType() != null ? options.outDType() : DType.F32;
        int bad = allowNonFinite ? -1 : dev.wudi.format.Floats.firstNonFinite(dtype, values, 0, values.length);
        if (bad >= 0) {
            throw NonFiniteCause.described(new NonFiniteResult(e.name(), bad, values[bad]), e.outShape(),
                    rule.label(), job, adapters);
        }
    }

    private static float[] transpose(float[] m, int rows, int cols) {
        float[] t = new float[m.length];
        Transpose.of(m, rows, cols, t);
        return t;
    }

    /** Keeps a tensor's output in memory (an adapter's tensors are small: factors, heads). */
    private static final class Capture implements TensorSink {
        final float[] values;
        private final DType dtype;
        private final Cancellation cancel;
        private int n;

        Capture(long numel, DType dtype, Cancellation cancel) {
            this.values = new float[Math.toIntExact(numel)];
            this.dtype = dtype;
            this.cancel = cancel;
        }

        @Override
        public void writeFloats(float[] src, int off, int count) {
            cancel.check();
            System.arraycopy(src, off, values, n, count);
            n += count;
        }

        @Override
        public void writeRaw(ByteBuffer b) {
            cancel.check();
            int count = b.remaining() / dtype.bytes();           // the tensor's bytes in its output dtype (a copy)
            dev.wudi.format.Floats.decode(dtype, b.slice().order(java.nio.ByteOrder.LITTLE_ENDIAN), values, n, count);
            n += count;
            b.position(b.limit());
        }
    }
}
