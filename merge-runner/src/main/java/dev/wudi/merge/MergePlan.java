package dev.wudi.merge;

import dev.wudi.spec.HeadPolicy;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.model.Layout;
import dev.wudi.model.ModelConfig;
import dev.wudi.model.TensorRole;
import java.util.List;
import java.util.Map;

/**
 * What a merge will do, decided before any tensor is read: for every output tensor its role and layout, the
 * models that take part and those left out (and why), and what computes it; for every tensor a fine-tune has
 * and the output will not, what becomes of it. `wudi plan` prints it; the merge carries it out.
 *
 * @param entries       the output's tensors, in the base's order (heads taken from a model follow at the end)
 * @param extras        fine-tunes' tensors that are not in the output as such (heads the base lacks, buffers)
 * @param notes         one line per thing the user should know (names matched by prefix, heads left out,
 *                      a grown vocabulary), for the start of the merge and its summary
 * @param baseConfig    the base's config.json (possibly absent)
 * @param modelConfigs  each model's config.json (possibly absent)
 * @param heads         the head policy, resolved for the output (never AUTO)
 * @param vocabSize     the output's vocab_size where the vocabulary grew, else -1
 * @param tokenizerFrom the 0-based model whose tokenizer files the output takes (a config's tokenizer_source, or
 *                      one that holds every added row), or -1 for the base's or a folder outside the merge's
 */
public record MergePlan(List<Entry> entries, List<Extra> extras, List<String> notes, ModelConfig baseConfig,
                        List<ModelConfig> modelConfigs, HeadPolicy heads, long vocabSize, int tokenizerFrom) {

    public MergePlan {
        entries = List.copyOf(entries);
        extras = List.copyOf(extras);
        notes = List.copyOf(notes);
        modelConfigs = List.copyOf(modelConfigs);
    }

    /** How an output tensor is produced. */
    public enum Action {
        /** The chosen method (WUDI for a linear weight, or an element-wise method). */
        METHOD,
        /** The rest policy (--rest): base, average or task arithmetic. */
        REST,
        /** Copied from the base byte for byte (non-float tensors). */
        COPY,
        /** Copied from one model (--heads from:K). */
        FROM_MODEL
    }

    /**
     * One output tensor.
     *
     * @param name         its name in the output (the base's)
     * @param base         the base's tensor, or null for a head the base lacks (FROM_MODEL)
     * @param role         what it is
     * @param layout       how WUDI sees its matrices
     * @param layoutSource what decided the layout (config.json model_type, a name rule, --layout)
     * @param outShape     its shape in the output (the base's, or more rows where the vocabulary grew)
     * @param outDType     its dtype in the output
     * @param action       what produces it
     * @param label        the action in words: "wudi (adam)", "rest: base", "copy", "from model 2"
     * @param models       the 0-based indices of the models taking part, in --model order
     * @param sources      their tensors (same order), matched to the base's name
     * @param leftOut      models that do not take part, with why (0-based index -> reason)
     * @param baseRows     rows merged by the usual policy where the vocabulary grew (the base's rows); rows
     *                     [baseRows, outShape[0]) are the mean of the models that have them; -1 otherwise
     */
    public record Entry(String name, TensorRef base, TensorRole role, Layout layout, String layoutSource,
                        long[] outShape, DType outDType, Action action, String label, List<Integer> models,
                        List<TensorRef> sources, Map<Integer, String> leftOut, long baseRows) {

        public Entry {
            models = List.copyOf(models);
            sources = List.copyOf(sources);
            leftOut = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(leftOut));   // in --model order
        }

        /** True where the vocabulary grew: the output has rows the base lacks. */
        public boolean grown() {
            return baseRows >= 0;
        }

        public long numel() {
            long n = 1;
            for (long d : outShape) {
                n *= d;
            }
            return n;
        }
    }

    /**
     * A fine-tune's tensor that the output does not hold as such.
     *
     * @param model 0-based index of the model
     * @param name  its name in that model
     * @param ref   where it is
     * @param role  what it is
     * @param fate  what becomes of it, in words ("left out: a task head the base lacks", "saved to heads/")
     * @param saved true where it is written to OUT/heads/model-K.safetensors
     */
    public record Extra(int model, String name, TensorRef ref, TensorRole role, String fate, boolean saved) {
    }

    /** The entries the method computes. */
    public long methodCount() {
        return entries.stream().filter(e -> e.action() == Action.METHOD).count();
    }
}
