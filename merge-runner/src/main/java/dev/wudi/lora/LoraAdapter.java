package dev.wudi.lora;

import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PEFT LoRA adapter folder: adapter_config.json and adapter_model.safetensors, mapped and checked, no tensor data
 * read. PEFT saves module M's factors as {@code base_model.model.M.lora_A.weight} [r, in] and {@code ...lora_B.weight}
 * [out, r] (a Conv2d's as [r, in, k, k] and [out, r, 1, 1]; an Embedding's as {@code M.lora_embedding_A} [r, vocab]
 * and {@code M.lora_embedding_B} [dim, r]), and the modules it trained in full (modules_to_save: task heads, a
 * pre_classifier) as plain tensors under their own names.
 */
public final class LoraAdapter implements AutoCloseable {

    public static final String CONFIG = "adapter_config.json";
    public static final String WEIGHTS = "adapter_model.safetensors";
    private static final String LEGACY_WEIGHTS = "adapter_model.bin";

    /** PEFT's prefix: the LoraModel's base_model, then the transformers model's module tree. */
    static final String PREFIX = "base_model.model.";

    private static final Pattern LORA = Pattern.compile("(.+)\\.lora_([AB])(?:\\.([^.]+))?\\.weight");
    private static final Pattern EMBEDDING = Pattern.compile("(.+)\\.lora_embedding_([AB])(?:\\.([^.]+))?");
    private static final Pattern SAVED_COPY = Pattern.compile("\\.modules_to_save(?:\\.[^.]+)?(?=\\.[^.]+$)");
    private static final Pattern ORIGINAL = Pattern.compile("\\.original_module\\.");

    /**
     * One adapted module.
     *
     * @param module    its path in the adapted model, e.g. transformer.h.0.attn.c_attn
     * @param a         lora_A: [r, in] (or [r, in, k, k]; an embedding's [r, vocab])
     * @param b         lora_B: [out, r] (or [out, r, 1, 1]; an embedding's [dim, r])
     * @param rank      r of this module
     * @param scaling   alpha / r (or alpha / sqrt(r)) of this module
     * @param embedding true for an nn.Embedding's LoRA, whose delta is (B A)^T, [vocab, dim]
     */
    public record Module(String module, TensorRef a, TensorRef b, int rank, double scaling, boolean embedding) {

        /** Rows of B A (out; an embedding's dim). */
        public long out() {
            return b.info().shape()[0];
        }

        /** Columns of B A (in times the kernel's elements; an embedding's vocabulary). */
        public long in() {
            long n = 1;
            long[] s = a.info().shape();
            for (int i = 1; i < s.length; i++) {
                n *= s[i];
            }
            return n;
        }
    }

    private final Path dir;
    private final AdapterConfig config;
    private final SafetensorsFile file;
    private final List<Module> modules;
    private final Map<String, TensorRef> full;

    private LoraAdapter(Path dir, AdapterConfig config, SafetensorsFile file, List<Module> modules,
                        Map<String, TensorRef> full) {
        this.dir = dir;
        this.config = config;
        this.file = file;
        this.modules = modules;
        this.full = full;
    }

    /** True for a folder holding adapter_config.json (and not a full model's model.safetensors). */
    public static boolean isAdapter(Path p) {
        return Files.isDirectory(p) && Files.isRegularFile(p.resolve(CONFIG));
    }

    /** Opens and checks an adapter folder; every refusal names the folder or file and the tensor. */
    public static LoraAdapter open(Path dir) throws IOException {
        AdapterConfig config = AdapterConfig.read(dir.resolve(CONFIG));
        Path weights = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(weights)) {
            if (Files.isRegularFile(dir.resolve(LEGACY_WEIGHTS))) {
                throw new CheckpointException(dir + ": the adapter is saved as " + LEGACY_WEIGHTS + " (pickle), which is"
                        + " not read here; convert it once with: python -c \"import torch; from safetensors.torch import"
                        + " save_file; save_file(torch.load('" + dir.resolve(LEGACY_WEIGHTS) + "', map_location='cpu'),"
                        + " '" + weights + "')\"");
            }
            throw new CheckpointException(dir + ": has " + CONFIG + " but no " + WEIGHTS);
        }
        SafetensorsFile f = SafetensorsFile.open(weights);
        try {
            return read(dir, config, f);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    private static LoraAdapter read(Path dir, AdapterConfig config, SafetensorsFile f) {
        Map<String, TensorRef[]> pairs = new LinkedHashMap<>();
        Map<String, Boolean> embedding = new LinkedHashMap<>();
        Map<String, TensorRef> copies = new LinkedHashMap<>();
        Map<String, TensorRef> plain = new LinkedHashMap<>();
        String adapterName = null;
        for (TensorInfo t : f.tensors()) {
            String name = t.name().startsWith(PREFIX) ? t.name().substring(PREFIX.length()) : t.name();
            TensorRef ref = new TensorRef(f, t);
            Matcher m = LORA.matcher(name);
            Matcher e = EMBEDDING.matcher(name);
            boolean isLora = m.matches();
            boolean isEmbedding = !isLora && e.matches();
            if (isLora || isEmbedding) {
                Matcher hit = isLora ? m : e;
                String named = hit.group(3);
                if (named != null && adapterName != null && !named.equals(adapterName)) {
                    throw new CheckpointException(f.path() + ": holds the adapters '" + adapterName + "' and '" + named
                            + "'; save each adapter to its own folder");
                }
                adapterName = named != null ? named : adapterName;
                if (!t.dtype().mergeable()) {
                    throw new CheckpointException(f.path() + ": tensor " + t.name() + " is " + t.dtype()
                            + "; LoRA factors must be F32, F16 or BF16 (a quantised adapter is not supported)");
                }
                pairs.computeIfAbsent(hit.group(1), k -> new TensorRef[2])[hit.group(2).equals("A") ? 0 : 1] = ref;
                embedding.put(hit.group(1), isEmbedding);
            } else if (name.contains("lora_magnitude_vector")) {
                throw new CheckpointException(f.path() + ": tensor " + t.name() + " is a DoRA magnitude; DoRA adapters"
                        + " are not supported (merge_and_unload them with PEFT and pass the full model)");
            } else if (name.contains(".lora_") || name.contains("token_adapter")) {
                throw new CheckpointException(f.path() + ": tensor " + t.name() + " is a part of a PEFT layer that is"
                        + " not a plain LoRA factor (a LoRA bias, trainable tokens, ...); such adapters are not supported");
            } else if (ORIGINAL.matcher(name).find()) {
                continue;                               // the frozen original of a module_to_save: the base's value
            } else if (SAVED_COPY.matcher(name).find()) {
                copies.put(SAVED_COPY.matcher(name).replaceAll(""), ref);
            } else {
                plain.put(name, ref);
            }
        }
        List<Module> modules = new ArrayList<>();
        for (Map.Entry<String, TensorRef[]> p : pairs.entrySet()) {
            if (!config.targets(p.getKey())) {
                // PEFT loads factors only into the modules its config targets; others it drops with a warning
                throw new CheckpointException(f.path() + ": holds LoRA factors for module " + p.getKey() + ", which "
                        + config.file().getFileName() + " does not target (target_modules "
                        + config.targets().describe() + (config.modulesToSave().isEmpty() ? ""
                        : ", modules_to_save " + config.modulesToSave()) + "); PEFT would not apply them: fix"
                        + " target_modules or drop those factors");
            }
            modules.add(module(f.path(), config, p.getKey(), p.getValue(), embedding.get(p.getKey())));
        }
        Map<String, TensorRef> full = new LinkedHashMap<>(plain);
        full.putAll(copies);                            // the trained copy wins over a plain tensor of the same name
        return new LoraAdapter(dir, config, f, Collections.unmodifiableList(modules), Collections.unmodifiableMap(full));
    }

    private static Module module(Path file, AdapterConfig config, String name, TensorRef[] ab, boolean embedding) {
        String a = embedding ? "lora_embedding_A" : "lora_A";
        String b = embedding ? "lora_embedding_B" : "lora_B";
        if (ab[0] == null || ab[1] == null) {
            throw new CheckpointException(file + ": module " + name + " has " + (ab[0] == null ? b + " but no " + a
                    : a + " but no " + b));
        }
        long[] as = ab[0].info().shape();
        long[] bs = ab[1].info().shape();
        boolean conv = as.length == 4 && bs.length == 4 && bs[2] == 1 && bs[3] == 1;
        if (!(as.length == 2 && bs.length == 2) && !conv || (embedding && conv)) {
            throw new CheckpointException(file + ": module " + name + " has " + a + " " + ab[0].info().shapeString()
                    + " and " + b + " " + ab[1].info().shapeString() + ", not the factors of a linear, Conv2d or"
                    + " embedding LoRA");
        }
        int rank = config.rank(name);
        if (as[0] != rank || bs[1] != rank) {
            throw new CheckpointException(file + ": module " + name + ": " + a + " " + ab[0].info().shapeString() + " and "
                    + b + " " + ab[1].info().shapeString() + " do not have the rank " + rank + " that "
                    + config.file().getFileName() + " gives it (r " + config.r()
                    + (config.rankPattern().isEmpty() ? "" : ", rank_pattern " + config.rankPattern()) + ")");
        }
        return new Module(name, ab[0], ab[1], rank, config.scaling(name), embedding);
    }

    public Path dir() {
        return dir;
    }

    public AdapterConfig config() {
        return config;
    }

    /** The weights file. */
    public SafetensorsFile file() {
        return file;
    }

    /** The adapted modules, in the file's order. */
    public List<Module> modules() {
        return modules;
    }

    /** Tensors saved in full (modules_to_save, task heads), by their name in the adapted model. */
    public Map<String, TensorRef> fullTensors() {
        return full;
    }

    /** "LoRA r 8, alpha 16, 12 modules" (rank and alpha patterns and rsLoRA noted). */
    public String describe() {
        return "LoRA r " + config.r() + ", alpha " + trim(config.loraAlpha())
                + (config.useRslora() ? " (rsLoRA)" : "")
                + (config.rankPattern().isEmpty() && config.alphaPattern().isEmpty() ? "" : ", per-module patterns")
                + ", " + modules.size() + " module" + (modules.size() == 1 ? "" : "s")
                + (full.isEmpty() ? "" : ", " + full.size() + " full tensor" + (full.size() == 1 ? "" : "s"));
    }

    static String trim(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? String.valueOf((long) v) : String.valueOf(v);
    }

    @Override
    public void close() {
        file.close();
    }
}
