package dev.wudi.model;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What the merge knows of Hugging Face architectures, each fact from transformers' own modeling code
 * (v4.57 and v5.18, read for this table; docs/design.md lists the files):
 * <ul>
 *   <li>which model types build their linear layers from {@code transformers.pytorch_utils.Conv1D}, whose
 *       weight is stored [in, out] ({@code nn.Parameter(torch.empty(nx, nf))}, applied as x @ W): the only
 *       modeling files importing it are gpt2, openai (openai-gpt), imagegpt, decision_transformer and clvp
 *       (only its decoder MLP). gpt_bigcode and gpt_neo use the same module names (c_attn, c_fc, c_proj) with
 *       nn.Linear, so names alone cannot decide;</li>
 *   <li>which MoE model types store fused experts as x @ W ([E, in, out]: gpt_oss, llama4); the v5 fused
 *       layouts of Mixtral, Qwen-MoE, DeepSeek-V3 and OLMoE are used through F.linear ([E, out, in]);</li>
 *   <li>each architecture's base_model_prefix (the attribute the bare model lives under in a task model), so
 *       that a fine-tune saved from GPT2ForSequenceClassification ({@code transformer.h.0...}) matches a base
 *       saved from GPT2Model ({@code h.0...});</li>
 *   <li>the names an output embedding takes when tied to the input one (and so absent from the files).</li>
 * </ul>
 */
public final class Architectures {

    private Architectures() {
    }

    /** model_type values whose transformer blocks use Conv1D ([in, out]) weights. */
    public static final Set<String> CONV1D_MODEL_TYPES =
            Set.of("gpt2", "openai-gpt", "imagegpt", "decision_transformer", "clvp");

    /**
     * The Conv1D modules of those model types, by the last two name components before ".weight": attention
     * c_attn, q_attn (cross-attention) and c_proj, the MLP's c_fc and c_proj. Heads (lm_head, score, classifier)
     * and every other linear of these models are nn.Linear.
     */
    public static final Pattern CONV1D_MODULE = Pattern.compile("(^|\\.)(attn\\.(c_attn|q_attn|c_proj)|"
            + "crossattention\\.(c_attn|q_attn|c_proj)|mlp\\.(c_fc|c_proj))\\.weight$");

    /** CLVP uses Conv1D in its decoder MLP only. */
    public static final Pattern CLVP_CONV1D_MODULE = Pattern.compile("(^|\\.)mlp\\.(c_fc|c_proj)\\.weight$");

    /** Model types with nn.Linear modules named like GPT-2's Conv1D ones. */
    public static final Set<String> LINEAR_DESPITE_GPT2_NAMES = Set.of("gpt_bigcode", "gpt_neo");

    /** MoE model types whose fused experts are [E, in, out] (x @ W[e]). */
    public static final Set<String> EXPERTS_IN_OUT_MODEL_TYPES = Set.of("gpt_oss", "llama4", "llama4_text");

    /** A 3-D tensor of fused experts: gate_up_proj, down_proj, w1/w2/w3 ... under an "experts" module. */
    public static final Pattern FUSED_EXPERTS = Pattern.compile("(^|\\.)experts\\.[A-Za-z0-9_]*(proj|w[123]|fc[12]?)"
            + "(\\.weight)?$");

    /** base_model_prefix by model_type (transformers: each modeling file's base_model_prefix). */
    public static final Map<String, String> BASE_MODEL_PREFIX = Map.ofEntries(
            Map.entry("gpt2", "transformer"), Map.entry("openai-gpt", "transformer"),
            Map.entry("imagegpt", "transformer"), Map.entry("t5", "transformer"),
            Map.entry("gpt_bigcode", "transformer"), Map.entry("gpt_neo", "transformer"),
            Map.entry("gptj", "transformer"), Map.entry("codegen", "transformer"),
            Map.entry("bert", "bert"), Map.entry("distilbert", "distilbert"), Map.entry("roberta", "roberta"),
            Map.entry("xlm-roberta", "roberta"), Map.entry("vit", "vit"), Map.entry("gpt_neox", "gpt_neox"),
            Map.entry("clip", "clip"), Map.entry("deberta-v2", "deberta"), Map.entry("deberta", "deberta"),
            Map.entry("electra", "electra"), Map.entry("albert", "albert"));

    /** Prefixes tried for any architecture (most checkpoints' bare model lives under one of these). */
    public static final List<String> COMMON_PREFIXES = List.of("model", "transformer", "bert", "distilbert",
            "roberta", "vit", "gpt_neox", "deberta", "electra", "albert", "clip", "decision_transformer",
            "language_model", "model.language_model");

    /**
     * Output-embedding names that transformers ties to the input embedding and leaves out of saved files:
     * GPT-2, GPT, ImageGPT, Llama and kin ({@code lm_head.weight}), BERT ({@code cls.predictions.decoder.weight}),
     * DistilBERT ({@code vocab_projector.weight}), RoBERTa ({@code lm_head.decoder.weight}).
     */
    public static final Pattern TIED_OUTPUT_EMBEDDING = Pattern.compile("^(lm_head\\.weight|lm_head\\.decoder\\.weight|"
            + "cls\\.predictions\\.decoder\\.weight|vocab_projector\\.weight|embed_out\\.weight)$");

    /**
     * Model types whose config does not tie the embeddings unless it says so (v5 declares
     * tie_word_embeddings=False for them); every other type ties by default (v4's base config).
     */
    public static final Set<String> UNTIED_BY_DEFAULT = Set.of("llama", "mistral", "mixtral", "qwen2", "qwen3",
            "qwen2_moe", "qwen3_moe", "gpt_oss", "deepseek_v3", "deepseek_v2", "olmoe", "olmo", "olmo2", "llama4",
            "llama4_text", "phi3", "granite", "granitemoe", "gemma", "gemma2", "gemma3_text", "starcoder2", "cohere",
            "gpt_neox", "falcon", "stablelm");

    /**
     * config.json fields that fix the body's shape (layer counts, widths, heads, experts), in the spellings of
     * the architectures users merge (Llama-style, GPT-2's n_*, DistilBERT's dim/n_layers/hidden_dim, T5's
     * d_model/num_layers, the MoE fields). Not among them: vocab_size (a grown vocabulary is tolerated) and the
     * context length (max_position_embeddings, n_positions, image_size: a fine-tune may extend it without a
     * tensor changing; where a tensor does change, the shape check names it).
     */
    public static final List<String> ARCHITECTURE_FIELDS = List.of(
            "num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads",
            "head_dim", "n_layer", "n_embd", "n_head", "n_inner", "dim", "n_layers", "n_heads",
            "hidden_dim", "d_model", "d_ff", "d_kv", "num_layers", "num_decoder_layers", "encoder_layers",
            "decoder_layers", "encoder_ffn_dim", "decoder_ffn_dim", "type_vocab_size",
            "num_experts", "num_local_experts", "n_routed_experts", "n_shared_experts", "moe_intermediate_size",
            "shared_expert_intermediate_size", "intermediate_size_mlp", "decoder_sparse_step", "first_k_dense_replace",
            "kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim", "patch_size", "num_channels", "projection_dim");
}
