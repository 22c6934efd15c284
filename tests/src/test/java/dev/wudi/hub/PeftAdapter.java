package dev.wudi.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors), turned into what a
 * full fine-tune of the same base would hold: a dense delta per adapted weight, plus the tensors the
 * adapter saved in full (task heads, modules_to_save).
 */
public final class PeftAdapter {

    public static final String CONFIG = "adapter_config.json";
    public static final String WEIGHTS = "adapter_model.safetensors";

    private static final String PREFIX = "base_model.model.";
    /** module.lora_A.weight, or module.lora_A.<adapter name>.weight as PEFT names them in memory. */
    private static final Pattern LORA = Pattern.compile("(.+)\\.lora_([AB])(?:\\.[^.]+)?\\.weight");
    /** Parts of LoRA layers this class cannot turn into a plain weight delta. */
    private static final Pattern UNSUPPORTED =
            Pattern.compile(".*\\.(lora_embedding_[AB]|lora_magnitude_vector|lora_B(?:\\.[^.]+)?\\.bias)(\\..*)?");
    private static final Pattern SAVED_COPY = Pattern.compile("\\.modules_to_save\\.[^.]+(?=\\.)");
    private static final Pattern ORIGINAL = Pattern.compile("\\.original_module(?=\\.)");

    private final Path dir;
    private final int r;
    private final double loraAlpha;
    private final boolean useRslora;
    private final boolean fanInFanOut;
    private final Map<String, Integer> rankPattern;
    private final Map<String, Double> alphaPattern;
    private final List<String> targetModules;
    private final List<String> modulesToSave;
    private final String baseModel;
    /** module -> {lora_A [r, in], lora_B [out, r]} */
    private final Map<String, Tensor[]> loras = new LinkedHashMap<>();
    private final Map<String, Tensor> full = new LinkedHashMap<>();
    private final List<String> unsupported = new ArrayList<>();

    private PeftAdapter(Path dir, JsonNode cfg) {
        this.dir = dir;
        String type = cfg.path("peft_type").asText("LORA");
        if (!type.equals("LORA")) {
            throw new IllegalArgumentException(dir + ": peft_type " + type + ", only LORA is supported");
        }
        this.r = cfg.path("r").asInt(8);
        this.loraAlpha = cfg.path("lora_alpha").asDouble(8);
        this.useRslora = cfg.path("use_rslora").asBoolean(false);
        this.fanInFanOut = cfg.path("fan_in_fan_out").asBoolean(false);
        if (cfg.path("use_dora").asBoolean(false)) {
            unsupported.add("use_dora (DoRA rescales the whole weight, not a low-rank delta)");
        }
        Map<String, Integer> ranks = new LinkedHashMap<>();
        cfg.path("rank_pattern").fields().forEachRemaining(e -> ranks.put(e.getKey(), e.getValue().asInt()));
        Map<String, Double> alphas = new LinkedHashMap<>();
        cfg.path("alpha_pattern").fields().forEachRemaining(e -> alphas.put(e.getKey(), e.getValue().asDouble()));
        this.rankPattern = Collections.unmodifiableMap(ranks);
        this.alphaPattern = Collections.unmodifiableMap(alphas);
        this.targetModules = strings(cfg.path("target_modules"));
        this.modulesToSave = strings(cfg.path("modules_to_save"));
        this.baseModel = cfg.path("base_model_name_or_path").asText(null);
    }

    /** target_modules and modules_to_save are a list, a single string (a regex in PEFT), or null. */
    private static List<String> strings(JsonNode n) {
        List<String> out = new ArrayList<>();
        if (n.isTextual()) {
            out.add(n.asText());
        } else {
            n.forEach(x -> out.add(x.asText()));
        }
        return Collections.unmodifiableList(out);
    }

    public static PeftAdapter read(Path dir) throws IOException {
        PeftAdapter a = new PeftAdapter(dir, new ObjectMapper().readTree(dir.resolve(CONFIG).toFile()));
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve(WEIGHTS))) {
            Map<String, Tensor> copies = new LinkedHashMap<>();
            Map<String, Tensor> originals = new LinkedHashMap<>();
            for (TensorInfo t : f.tensors()) {
                a.take(t.name(), read(f, t), copies, originals);
            }
            // The trained copy of a module_to_save wins over the frozen original when both were saved.
            originals.forEach(a.full::putIfAbsent);
            a.full.putAll(copies);
        }
        for (Map.Entry<String, Tensor[]> e : a.loras.entrySet()) {
            if (e.getValue()[0] == null || e.getValue()[1] == null) {
                throw new IOException(dir + ": module " + e.getKey() + " has lora_"
                        + (e.getValue()[0] == null ? "B but no lora_A" : "A but no lora_B"));
            }
        }
        return a;
    }

    private static Tensor read(SafetensorsFile f, TensorInfo t) throws IOException {
        if (!t.dtype().mergeable()) {
            throw new IOException(f.path() + ": " + t.name() + " is " + t.dtype() + ", expected a float tensor");
        }
        float[] a = new float[Math.toIntExact(t.numel())];
        f.readFloats(t, 0, a, 0, a.length);
        return new Tensor(a, t.shape().clone());
    }

    private void take(String stored, Tensor t, Map<String, Tensor> copies, Map<String, Tensor> originals) {
        String name = stored.startsWith(PREFIX) ? stored.substring(PREFIX.length()) : stored;
        Matcher m = LORA.matcher(name);
        if (m.matches()) {
            loras.computeIfAbsent(m.group(1), k -> new Tensor[2])[m.group(2).equals("A") ? 0 : 1] = t;
        } else if (UNSUPPORTED.matcher(name).matches()) {
            unsupported.add(stored);
        } else if (SAVED_COPY.matcher(name).find()) {
            copies.put(SAVED_COPY.matcher(name).replaceAll(""), t);
        } else if (ORIGINAL.matcher(name).find()) {
            originals.put(ORIGINAL.matcher(name).replaceAll(""), t);
        } else {
            full.put(name, t);
        }
    }

    public Path dir() {
        return dir;
    }

    public int r() {
        return r;
    }

    public double loraAlpha() {
        return loraAlpha;
    }

    public boolean useRslora() {
        return useRslora;
    }

    public boolean fanInFanOut() {
        return fanInFanOut;
    }

    public Map<String, Integer> rankPattern() {
        return rankPattern;
    }

    public Map<String, Double> alphaPattern() {
        return alphaPattern;
    }

    public List<String> targetModules() {
        return targetModules;
    }

    public List<String> modulesToSave() {
        return modulesToSave;
    }

    /** base_model_name_or_path, or null. */
    public String baseModel() {
        return baseModel;
    }

    /** The adapted modules, e.g. transformer.h.0.attn.c_attn, in file order. */
    public List<String> modules() {
        return List.copyOf(loras.keySet());
    }

    /** lora_A [r, in] of a module. */
    public Tensor loraA(String module) {
        return pair(module)[0];
    }

    /** lora_B [out, r] of a module. */
    public Tensor loraB(String module) {
        return pair(module)[1];
    }

    private Tensor[] pair(String module) {
        Tensor[] p = loras.get(module);
        if (p == null) {
            throw new IllegalArgumentException(dir + ": no LoRA module '" + module + "' (have " + loras.keySet() + ")");
        }
        return p;
    }

    /** The module's rank: rank_pattern's entry when one matches, else r. */
    public int rank(String module) {
        return dev.wudi.lora.PatternKeys.lookup(rankPattern, module).orElse(r);
    }

    /** The module's alpha: alpha_pattern's entry when one matches, else lora_alpha. */
    public double alpha(String module) {
        return dev.wudi.lora.PatternKeys.lookup(alphaPattern, module).orElse(loraAlpha);
    }

    /** alpha / r, or alpha / sqrt(r) with rsLoRA, per module as PEFT's LoraLayer.update_layer sets it. */
    public double scaling(String module) {
        int rank = rank(module);
        return useRslora ? alpha(module) / Math.sqrt(rank) : alpha(module) / rank;
    }

    /** The non-LoRA tensors (heads, modules_to_save) under the base model's own names. */
    public Map<String, Tensor> fullTensors() {
        return Collections.unmodifiableMap(full);
    }

    /** Every module's delta, keyed by module path; see {@link #denseDelta}. */
    public Map<String, Tensor> denseDeltas() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String module : loras.keySet()) {
            out.put(module, denseDelta(module));
        }
        return out;
    }

    /**
     * scaling * (B @ A), the change merging the adapter makes to the module's weight, in the layout the
     * base stores that weight: [out, in] for nn.Linear, [in, out] for GPT-2's Conv1D (fan_in_fan_out).
     * The product is summed in double and rounded to float32 once, so it is the exact delta to float
     * precision whatever order a reader sums in.
     */
    public Tensor denseDelta(String module) {
        if (!unsupported.isEmpty()) {
            throw new UnsupportedOperationException(dir + ": cannot express as dense deltas: " + unsupported);
        }
        Tensor a = loraA(module);
        Tensor b = loraB(module);
        int rank = a.dim(0);
        int in = a.dim(1);
        int out = b.dim(0);
        if (a.rank() != 2 || b.rank() != 2 || b.dim(1) != rank) {
            throw new IllegalStateException(dir + ": " + module + " lora_A " + a + " and lora_B " + b
                    + " do not multiply");
        }
        if (rank != rank(module)) {
            throw new IllegalStateException(dir + ": " + module + " has rank " + rank + " but the config says "
                    + rank(module) + " (rank_pattern " + rankPattern + ")");
        }
        double scale = scaling(module);
        float[] av = a.data();
        float[] bv = b.data();
        float[] d = new float[out * in];
        double[] row = new double[in];
        for (int o = 0; o < out; o++) {
            Arrays.fill(row, 0);
            for (int k = 0; k < rank; k++) {
                double bok = bv[o * rank + k];
                int aOff = k * in;
                for (int i = 0; i < in; i++) {
                    row[i] += bok * av[aOff + i];
                }
            }
            for (int i = 0; i < in; i++) {
                d[fanInFanOut ? i * out + o : o * in + i] = (float) (scale * row[i]);
            }
        }
        return new Tensor(d, fanInFanOut ? new long[] {in, out} : new long[] {out, in});
    }
}
