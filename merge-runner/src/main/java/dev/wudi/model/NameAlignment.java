package dev.wudi.model;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Matches a fine-tune's tensor names to the base's the way transformers loads a checkpoint into another class
 * of the same architecture: a name the base does not have is tried without, then with, the architecture's
 * base_model_prefix ({@code transformer.h.0.attn.c_attn.weight} in a GPT2ForSequenceClassification fine-tune is
 * {@code h.0.attn.c_attn.weight} in openai-community/gpt2's own file; {@code bert.encoder...} against a bare
 * BertModel's {@code encoder...}). Names that match nothing (task heads, buffers) are left for the merge plan.
 */
public final class NameAlignment {

    private final Map<String, String> baseToModel;
    private final List<String> unmatched;
    private final Map<String, Integer> prefixChanges;
    /** The prefix the model's names have (+) or lack (-) where the base's differ, most often: "+transformer". */
    private final String usualChange;

    private NameAlignment(Map<String, String> baseToModel, List<String> unmatched, Map<String, Integer> prefixChanges,
                          String usualChange) {
        this.baseToModel = baseToModel;
        this.unmatched = unmatched;
        this.prefixChanges = prefixChanges;
        this.usualChange = usualChange;
    }

    /**
     * @param baseNames  the base's tensor names
     * @param modelNames the fine-tune's, in its order
     * @param prefixes   prefixes to try, most likely first (the architectures' base_model_prefix)
     */
    public static NameAlignment of(Collection<String> baseNames, Collection<String> modelNames, List<String> prefixes) {
        Set<String> base = new LinkedHashSet<>(baseNames);
        Map<String, String> map = new LinkedHashMap<>();
        List<String> rest = new ArrayList<>();
        for (String k : modelNames) {
            if (base.contains(k)) {
                map.put(k, k);
            } else {
                rest.add(k);
            }
        }
        List<String> unmatched = new ArrayList<>();
        Map<String, Integer> changes = new TreeMap<>();
        Map<String, Integer> usual = new TreeMap<>();
        for (String k : rest) {
            String hit = null;
            String change = null;
            String sign = null;
            for (String p : prefixes) {
                String stripped = k.startsWith(p + ".") ? k.substring(p.length() + 1) : null;
                if (stripped != null && base.contains(stripped) && !map.containsKey(stripped)) {
                    hit = stripped;
                    change = "without '" + p + ".'";
                    sign = "+" + p;
                    break;
                }
                String added = p + "." + k;
                if (base.contains(added) && !map.containsKey(added)) {
                    hit = added;
                    change = "with '" + p + ".'";
                    sign = "-" + p;
                    break;
                }
            }
            if (hit == null) {
                unmatched.add(k);
            } else {
                map.put(hit, k);
                changes.merge(change, 1, Integer::sum);
                usual.merge(sign, 1, Integer::sum);
            }
        }
        String most = usual.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(null);
        return new NameAlignment(map, unmatched, changes, most);
    }

    /** The prefixes to try for a base and a fine-tune: their base_model_prefix, then the common ones. */
    public static List<String> prefixesFor(ModelConfig base, ModelConfig model) {
        Set<String> out = new LinkedHashSet<>();
        for (ModelConfig c : new ModelConfig[] {base, model}) {
            String p = Architectures.BASE_MODEL_PREFIX.get(c.modelType());
            if (p != null) {
                out.add(p);
            }
        }
        out.addAll(Architectures.COMMON_PREFIXES);
        return List.copyOf(out);
    }

    /** The fine-tune's name for a base tensor, or null where it has none. */
    public String modelName(String baseName) {
        return baseToModel.get(baseName);
    }

    /**
     * A base tensor's name as the fine-tune spells it: its own name for the tensor where it has one, else the base's
     * with the prefix the fine-tune's names usually add or drop (a buffer the fine-tune's file leaves out is named as
     * the rest of its file is).
     */
    public String spelled(String baseName) {
        String own = baseToModel.get(baseName);
        if (own != null || usualChange == null) {
            return own != null ? own : baseName;
        }
        String p = usualChange.substring(1);
        if (usualChange.charAt(0) == '+') {
            return p + "." + baseName;
        }
        return baseName.startsWith(p + ".") ? baseName.substring(p.length() + 1) : baseName;
    }

    /** The fine-tune's names that match no base tensor, in its order. */
    public List<String> unmatched() {
        return unmatched;
    }

    /**
     * How names were matched other than as they are: "without 'transformer.'" -> 148 tensors. Empty when
     * every matched name is the base's own.
     */
    public Map<String, Integer> prefixChanges() {
        return prefixChanges;
    }

    /** "148 names matched without 'transformer.'", or "" when none changed. */
    public String describeChanges() {
        List<String> parts = new ArrayList<>();
        prefixChanges.forEach((change, n) -> parts.add(n + " name" + (n == 1 ? "" : "s") + " matched " + change));
        return String.join(", ", parts);
    }
}
