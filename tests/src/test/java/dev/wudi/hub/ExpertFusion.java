package dev.wudi.hub;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rewrites per-expert 2-D MoE weights (experts.{e}.gate_proj/up_proj/down_proj.weight, the hub layout of
 * Qwen2-MoE and Mixtral-style checkpoints) into the stacked 3-D tensors newer checkpoints store:
 * experts.gate_up_proj and experts.down_proj. The two stacked layouts in use differ only in whether each
 * expert's matrix is stored [out, in] (transformers v5, F.linear) or [in, out] (GPT-OSS, Llama 4, which
 * multiply x @ W), which is exactly what a merge must read from the config to pick the right Gram side.
 */
final class ExpertFusion {

    private static final Pattern EXPERT = Pattern.compile("(.*\\.experts)\\.(\\d+)\\.(gate|up|down)_proj\\.weight");

    private ExpertFusion() {
    }

    static Model fuse(Model m, boolean inOut) {
        Map<String, TreeMap<Integer, Tensor[]>> groups = group(m);
        if (groups.isEmpty()) {
            throw new IllegalArgumentException("no per-expert weights (….experts.{e}.gate_proj.weight) to fuse");
        }
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : m.tensors().entrySet()) {
            Matcher x = EXPERT.matcher(e.getKey());
            if (!x.matches()) {
                out.put(e.getKey(), e.getValue());
            } else if (!out.containsKey(x.group(1) + ".gate_up_proj")) {
                // the stacked pair takes the place of the group's first expert tensor
                Tensor[] fused = stack(x.group(1), groups.get(x.group(1)), inOut);
                out.put(x.group(1) + ".gate_up_proj", fused[0]);
                out.put(x.group(1) + ".down_proj", fused[1]);
            }
        }
        Model r = new Model(m.config().deepCopy(), out);
        r.config().put("model_type", inOut ? "gpt_oss" : "qwen2_moe");
        r.config().putArray("architectures").add(inOut ? "GptOssForCausalLM" : "Qwen2MoeForCausalLM");
        if (inOut) {
            r.config().put("num_local_experts", groups.values().iterator().next().size());
        }
        return r;
    }

    /** experts prefix -> expert index -> {gate, up, down}. */
    private static Map<String, TreeMap<Integer, Tensor[]>> group(Model m) {
        Map<String, TreeMap<Integer, Tensor[]>> groups = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : m.tensors().entrySet()) {
            Matcher x = EXPERT.matcher(e.getKey());
            if (x.matches()) {
                int slot = switch (x.group(3)) {
                    case "gate" -> 0;
                    case "up" -> 1;
                    default -> 2;
                };
                groups.computeIfAbsent(x.group(1), k -> new TreeMap<>())
                        .computeIfAbsent(Integer.parseInt(x.group(2)), k -> new Tensor[3])[slot] = e.getValue();
            }
        }
        return groups;
    }

    /** {gate_up [E, 2I, H], down [E, H, I]}, or with inOut {[E, H, 2I], [E, I, H]}. */
    private static Tensor[] stack(String prefix, TreeMap<Integer, Tensor[]> experts, boolean inOut) {
        int count = experts.size();
        if (experts.firstKey() != 0 || experts.lastKey() != count - 1) {
            throw new IllegalArgumentException(prefix + ": experts " + experts.keySet() + " are not 0.." + (count - 1));
        }
        Tensor[] first = experts.firstEntry().getValue();
        for (Map.Entry<Integer, Tensor[]> e : experts.entrySet()) {
            Tensor[] p = e.getValue();
            if (p[0] == null || p[1] == null || p[2] == null
                    || !p[0].sameShape(first[0]) || !p[1].sameShape(first[0]) || !p[2].sameShape(first[2])) {
                throw new IllegalArgumentException(prefix + "." + e.getKey()
                        + ": needs gate_proj, up_proj [I, H] and down_proj [H, I] shaped like expert 0's");
            }
        }
        int inter = first[0].dim(0);
        int hidden = first[0].dim(1);
        int per = 2 * inter * hidden;
        float[] gateUp = new float[count * per];
        float[] down = new float[count * inter * hidden];
        for (Map.Entry<Integer, Tensor[]> e : experts.entrySet()) {
            int ex = e.getKey();
            Tensor[] p = e.getValue();
            // gate rows then up rows: the two halves a forward pass chunks apart
            System.arraycopy(p[0].data(), 0, gateUp, ex * per, inter * hidden);
            System.arraycopy(p[1].data(), 0, gateUp, ex * per + inter * hidden, inter * hidden);
            System.arraycopy(p[2].data(), 0, down, ex * inter * hidden, inter * hidden);
        }
        Tensor gu = new Tensor(gateUp, new long[] {count, 2L * inter, hidden});
        Tensor dn = new Tensor(down, new long[] {count, hidden, inter});
        return inOut ? new Tensor[] {gu.transpose(), dn.transpose()} : new Tensor[] {gu, dn};
    }
}
