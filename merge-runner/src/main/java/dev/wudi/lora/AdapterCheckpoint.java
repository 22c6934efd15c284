package dev.wudi.lora;

import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.TensorInfo;
import dev.wudi.model.Layout;
import dev.wudi.model.ModelConfig;
import dev.wudi.model.NameAlignment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A LoRA adapter seen as the full fine-tune it stands for, under the base's tensor names: each adapted weight is
 * W_0 + scaling B A ({@link LoraTensor}), each tensor the adapter saved in full (modules_to_save) is its value, and
 * every other tensor is the base's own reference (the adapter leaves it as it is; a merge knows it by identity and
 * reads nothing for it). Tensors the base lacks (task heads such as score or classifier) keep the adapter's names,
 * so the merge plan treats them as any fine-tune's heads.
 *
 * <p>Names are matched the way transformers loads a checkpoint into another class of the architecture
 * ({@link NameAlignment}): PEFT's {@code base_model.model.} is dropped, then {@code transformer.h.0.attn.c_attn} meets
 * openai-community/gpt2's {@code h.0.attn.c_attn.weight} without the base_model_prefix. An adapted module with no
 * weight in the base is refused, naming both.
 */
public final class AdapterCheckpoint {

    private AdapterCheckpoint() {
    }

    /**
     * @param layoutOf the base tensor's layout as the merge plan classifies it: IN_OUT (GPT-2's Conv1D) means the
     *                 adapter's delta is stored transposed, as PEFT's fan_in_fan_out does for that module type
     */
    public static Checkpoint over(Checkpoint base, LoraAdapter adapter, ModelConfig baseConfig,
                                  Function<TensorInfo, Layout> layoutOf) {
        List<String> names = new ArrayList<>();
        for (LoraAdapter.Module m : adapter.modules()) {
            names.add(m.module() + ".weight");
        }
        names.addAll(adapter.fullTensors().keySet());
        List<String> prefixes = NameAlignment.prefixesFor(baseConfig, ModelConfig.absent());
        NameAlignment align = NameAlignment.of(base.names(), names, prefixes);
        Map<String, String> toBase = new LinkedHashMap<>();
        for (String b : base.names()) {
            String m = align.modelName(b);
            if (m != null) {
                toBase.put(m, b);
            }
        }
        Map<String, TensorRef> replaced = new LinkedHashMap<>();
        for (LoraAdapter.Module m : adapter.modules()) {
            String weight = m.module() + ".weight";
            String b = toBase.get(weight);
            if (b == null) {
                throw new CheckpointException(adapter.dir() + ": the adapter changes module " + m.module()
                        + ", but the base " + base.path() + " has no weight for it (looked for " + tried(weight, prefixes)
                        + "); the adapter was trained on another model");
            }
            TensorRef bref = base.tensor(b);
            replaced.put(b, TensorRef.computed(new LoraTensor(bref, m, transposed(adapter, m, bref, layoutOf))));
        }
        for (Map.Entry<String, TensorRef> e : adapter.fullTensors().entrySet()) {
            String b = toBase.get(e.getKey());
            if (b != null) {
                replaced.put(b, e.getValue());
            }
        }
        Map<String, TensorRef> tensors = new LinkedHashMap<>();
        for (String b : base.names()) {
            tensors.put(b, replaced.getOrDefault(b, base.tensor(b)));
        }
        for (Map.Entry<String, TensorRef> e : adapter.fullTensors().entrySet()) {
            if (!toBase.containsKey(e.getKey())) {
                tensors.put(e.getKey(), e.getValue());          // a task head the base lacks
            }
        }
        return Checkpoint.composed(adapter.dir(), true, List.of(adapter.file()), tensors, adapter.file().metadata());
    }

    /** Each adapted module's weight in the base (module -> base tensor name), for those the base has. */
    public static Map<String, String> baseNames(Checkpoint base, LoraAdapter adapter, ModelConfig baseConfig) {
        List<String> names = new ArrayList<>();
        for (LoraAdapter.Module m : adapter.modules()) {
            names.add(m.module() + ".weight");
        }
        NameAlignment align = NameAlignment.of(base.names(), names, NameAlignment.prefixesFor(baseConfig,
                ModelConfig.absent()));
        Map<String, String> out = new LinkedHashMap<>();
        for (String b : base.names()) {
            String m = align.modelName(b);
            if (m != null) {
                out.put(m.substring(0, m.length() - ".weight".length()), b);
            }
        }
        return out;
    }

    /**
     * Whether the module's delta is stored as (B A)^T, checked against the base's shape: the refusal says what the
     * adapter's factors give and how the base stores the weight.
     */
    private static boolean transposed(LoraAdapter adapter, LoraAdapter.Module m, TensorRef base,
                                      Function<TensorInfo, Layout> layoutOf) {
        TensorInfo bi = base.info();
        if (!bi.dtype().mergeable()) {
            throw new CheckpointException(adapter.dir() + ": the adapter changes " + bi.name() + ", which the base "
                    + base.path() + " holds as " + bi.dtype() + " (not a floating weight)");
        }
        boolean transposed = m.embedding() || layoutOf.apply(bi) == Layout.IN_OUT;
        long rows = bi.rank() == 0 ? 1 : bi.shape()[0];
        long cols = bi.rank() == 0 ? 1 : bi.numel() / rows;
        long wantRows = transposed ? m.in() : m.out();
        long wantCols = transposed ? m.out() : m.in();
        if (bi.rank() < 2 || rows != wantRows || cols != wantCols) {
            String delta = "[" + wantRows + ", " + wantCols + "]";
            String why = m.embedding() ? " (an embedding's delta is (B A)^T)" : transposed
                    ? " (B A transposed: the base stores it [in, out] as GPT-2's Conv1D does)"
                    : " (B A: the base stores it [out, in] as nn.Linear does)";
            throw new CheckpointException(adapter.dir() + ": module " + m.module() + ": lora_A "
                    + m.a().info().shapeString() + " and lora_B " + m.b().info().shapeString() + " give a delta of "
                    + delta + why + ", but the base " + base.path() + " holds " + bi.name() + " as "
                    + bi.shapeString() + "; the adapter was trained on another model");
        }
        return transposed;
    }

    private static String tried(String name, List<String> prefixes) {
        Set<String> out = new LinkedHashSet<>();
        out.add(name);
        for (String p : prefixes) {
            if (name.startsWith(p + ".")) {
                out.add(name.substring(p.length() + 1));
            }
        }
        if (out.size() == 1 && !prefixes.isEmpty()) {
            out.add(prefixes.get(0) + "." + name);
        }
        return String.join(", ", out);
    }
}
