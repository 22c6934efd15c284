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
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import dev.wudi.lora.AdapterConfig;
import dev.wudi.lora.AdapterWriter;
import dev.wudi.lora.LoraAdapter;
import dev.wudi.lora.LoraTensor;
import dev.wudi.lora.LowRankWudi;
import dev.wudi.lora.TargetModules;
import dev.wudi.lora.TruncatedSvd;
import dev.wudi.method.TensorOutcome;
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
final class AdapterMerge implements TensorLoop.Target {

    private final MergeSpec options;
    private final MergePlan plan;
    private final Checkpoint base;
    private final List<Checkpoint> models;
    private final List<LoraAdapter> adapters;
    private final MergeListener listener;
    private final String methodDescription;

    // what the loop's tensors become, as they complete
    private final List<AdapterWriter.Module> modules = new ArrayList<>();
    private final List<AdapterWriter.Full> full = new ArrayList<>();
    private final Map<String, Integer> ranks = new LinkedHashMap<>();
    private final Map<String, String> fullNames;
    private final List<Double> errors = new ArrayList<>();
    private final Set<Integer> svdRanks = new java.util.TreeSet<>();
    private String prefix;
    private int exact;
    private int zeroDeltas;
    /** The tensor being computed, kept in memory (an adapter's tensors are small: factors, heads). */
    private Capture current;

    private AdapterMerge(MergeSession session) {
        this.options = session.spec();
        this.plan = session.plan();
        this.base = session.base();
        this.models = session.models();
        this.adapters = session.adapters();
        this.listener = session.listener();
        this.methodDescription = TensorRules.describe(options);
        this.fullNames = adapterNamesOfFullTensors();
    }

    /** Merges the session's adapters into an adapter folder at --out; the report. */
    static MergeReport write(MergeSession session, TensorRules rules, TensorLoop loop, List<String> warnings,
                             long start) throws IOException {
        AdapterMerge a = new AdapterMerge(session);
        List<MergePlan.Entry> entries = session.plan().entries();
        loop.started(loop.rulesOf(entries));
        List<Integer> all = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            all.add(i);
        }
        List<TensorRecord> records = loop.run(all, a);
        session.safety().cancellation().check();
        List<String> notes = a.notes();
        long bytes = a.write(notes);
        notes.forEach(session.listener()::info);
        return Reports.of(session, rules, records, warnings, start, bytes, notes);
    }

    @Override
    public boolean takes(MergePlan.Entry e) {
        boolean untouched = e.sources().isEmpty() || e.sources().stream().allMatch(r -> r == e.base());
        // the adapter leaves a copied tensor, and one no adapter changes, as the base's
        return !(e.action() == MergePlan.Action.COPY || (loraOf(e) == null && untouched
                && e.action() != MergePlan.Action.FROM_MODEL));
    }

    @Override
    public TensorLoop.TensorOut out(int index, MergePlan.Entry e, TensorSpec spec) {
        current = new Capture(e.numel(), e.outDType());
        return current;
    }

    @Override
    public TensorRecord done(int index, MergePlan.Entry e, TensorRecord record, TensorOutcome outcome)
            throws IOException {
        LoraTensor lora = loraOf(e);
        Map<String, Double> details = new LinkedHashMap<>(record.details());
        float[] values = current.values;
        if (lora != null && !e.grown()) {
            if (prefix == null) {
                prefix = prefixOf(lora.module().module() + ".weight", e.name());
            }
            AdapterWriter.Module m = factors(e, lora, outcome, values, details);
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
        } else if (e.action() == MergePlan.Action.FROM_MODEL || differsFromBase(e, values)) {
            String name = fullNames.get(sourceKey(e));
            full.add(new AdapterWriter.Full(name != null ? name : (prefix == null ? "" : prefix) + e.name(), values,
                    e.outShape().clone()));
        }
        current = null;
        // the adapter is written in float32 (or --dtype) whatever the base's dtype
        return new TensorRecord(record.name(), record.method(), record.shape(), adapterDType().name(),
                record.lossBefore(), record.lossAfter(), record.seconds(), details, record.role(), record.layout(),
                record.leftOut(), record.zeroTaskVectors());
    }

    private DType adapterDType() {
        return options.outDType() != null ? options.outDType() : DType.F32;
    }

    /** The summary's lines: modules written exactly, truncated by SVD, or left out with a zero delta. */
    private List<String> notes() {
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
        return notes;
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

    private long write(List<String> notes) throws IOException {
        Path out = options.out().toAbsolutePath().normalize();
        Path tmp = CheckpointWriter.partialPath(out);
        if (Files.exists(tmp, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            listener.info("removed the partial output an earlier run left at " + tmp);
        }
        CheckpointWriter.deleteRecursively(tmp);
        Files.createDirectories(tmp);
        try {
            DType dtype = adapterDType();
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("wudi_method", methodDescription);
            meta.put("wudi_version", Version.get());
            AdapterWriter.write(tmp, modules, full, config(ranks, full), dtype, meta);
            new OutputFiles(options, plan, base, models, adapters).writeHeads(tmp);
            if (options.card() != CardPolicy.NONE) {
                Files.writeString(tmp.resolve(OutputFiles.CARD), card(methodDescription, notes, modules.size()));
            }
            long bytes = Files.size(tmp.resolve(LoraAdapter.WEIGHTS));
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
        TargetModules.of(ranks.keySet(), modulesOfTheBase(), inputConfigs()).forEach(c.putArray("target_modules")::add);
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

    /** Every module of the base (each tensor's owner and the modules above it), named as the adapters name them. */
    private Set<String> modulesOfTheBase() {
        Set<String> out = new LinkedHashSet<>();
        for (MergePlan.Entry e : plan.entries()) {
            if (e.base() == null) {
                continue;
            }
            String[] parts = ((prefix == null ? "" : prefix) + e.name()).split("\\.");
            StringBuilder m = new StringBuilder();
            for (int i = 0; i < parts.length - 1; i++) {
                m.append(i == 0 ? "" : ".").append(parts[i]);
                out.add(m.toString());
            }
        }
        return out;
    }

    private List<AdapterConfig> inputConfigs() {
        List<AdapterConfig> out = new ArrayList<>();
        adapters.forEach(a -> {
            if (a != null) {
                out.add(a.config());
            }
        });
        return out;
    }

    /** The adapters' common value of a setting, or null where they differ or none has it. */
    private String agreed(Function<LoraAdapter, String> f) {
        Set<String> values = new LinkedHashSet<>();
        adapters.forEach(a -> values.add(a == null ? null : f.apply(a)));
        return values.size() == 1 ? values.iterator().next() : null;
    }

    private String card(String method, List<String> notes, int moduleCount) {
        StringBuilder s = new StringBuilder();
        s.append("---\n");
        Set<String> bases = new LinkedHashSet<>();
        adapters.forEach(a -> {
            if (a != null && a.config().baseModel() != null) {
                bases.add(a.config().baseModel());
            }
        });
        if (bases.size() == 1) {
            s.append("base_model: ").append(yamlText(bases.iterator().next())).append('\n');
        } else if (!bases.isEmpty()) {
            s.append("base_model:\n");                    // the inputs disagree: each one the card can name
            bases.forEach(b -> s.append("- ").append(yamlText(b)).append('\n'));
        }
        s.append("library_name: peft\ntags:\n- merge\n- wudi\n- lora\n---\n\n");
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

    /** A YAML scalar as it is where it is plain, else double-quoted (a path with ": ", a leading "-", ...). */
    private static String yamlText(String v) {
        if (v.matches("[A-Za-z0-9_][A-Za-z0-9_./@+-]*")) {
            return v;
        }
        return "\"" + v.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    private static boolean allZero(float[] v) {
        for (float x : v) {
            if (x != 0f) {
                return false;
            }
        }
        return true;
    }

    private static float[] transpose(float[] m, int rows, int cols) {
        float[] t = new float[m.length];
        Transpose.of(m, rows, cols, t);
        return t;
    }

    /**
     * Keeps a tensor's output in memory as float32 values: floats as the rule computes them (not rounded to a dtype),
     * raw bytes decoded from the tensor's dtype (a copy).
     */
    private static final class Capture implements TensorLoop.TensorOut {
        final float[] values;
        private final DType dtype;
        private int n;

        Capture(long numel, DType dtype) {
            this.values = new float[Math.toIntExact(numel)];
            this.dtype = dtype;
        }

        @Override
        public void writeFloats(float[] src, int off, int count, int elementBytes) {
            System.arraycopy(src, off, values, n, count);
            n += count;
        }

        @Override
        public void write(ByteBuffer b) {
            int count = b.remaining() / dtype.bytes();
            dev.wudi.format.Floats.decode(dtype, b.slice().order(java.nio.ByteOrder.LITTLE_ENDIAN), values, n, count);
            n += count;
            b.position(b.limit());
        }

        @Override
        public IOException failed(String doing, IOException e) {
            return e;
        }
    }
}
