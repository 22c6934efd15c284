package dev.wudi.model;

import java.util.Locale;

/**
 * What a tensor is in its model, decided from its name, rank and dtype ({@link TensorClassifier}). The role
 * decides WUDI's default scope (linear weights only, specification 3) and how a tensor that a fine-tune lacks, adds or
 * reshapes is treated (heads and vocabularies are tolerated, body tensors are not).
 */
public enum TensorRole {
    /** A linear map of the body: nn.Linear, Conv1D, a stack of expert matrices, a convolution. */
    LINEAR,
    /** A lookup table: token, position and token-type embeddings. */
    EMBEDDING,
    /** A task head (lm_head, score, classifier, pre_classifier, qa_outputs, cls.*, pooler): task-specific. */
    HEAD,
    /** A normalisation's scale or shift (LayerNorm, RMSNorm, ln_*). */
    NORM,
    /** A bias vector of a linear layer (or a stack of them, e.g. experts' biases). */
    BIAS,
    /** A non-learned buffer (causal masks, position ids, rotary frequencies) or a non-float tensor. */
    BUFFER,
    /** Anything else (scalars such as logit_scale, 1-D parameters without a known role). */
    OTHER;

    /** "linear", "embedding", ...: as shown by `wudi plan` and written in reports. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
