package dev.wudi.merge;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.format.DType;
import dev.wudi.format.TensorInfo;
import dev.wudi.method.MergeMethod;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class TensorSelectionTest {

    private static TensorInfo t(String name, DType d, long... shape) {
        long n = d.bytes();
        for (long s : shape) {
            n *= s;
        }
        return new TensorInfo(name, d, shape, 0, n);
    }

    private static final TensorSelection WUDI =
            new TensorSelection(MergeMethod.Scope.LINEAR_WEIGHTS, null, null, true);

    @Test
    void defaultWudiScopeTakesLinearWeightsOnly() {
        assertTrue(WUDI.selects(t("model.layers.3.mlp.up_proj.weight", DType.BF16, 11008, 4096)));
        assertTrue(WUDI.selects(t("visual.transformer.resblocks.0.attn.in_proj_weight", DType.F32, 2304, 768)));
        assertTrue(WUDI.selects(t("enc.fc1.weight", DType.F32, 256, 64)));
        assertFalse(WUDI.selects(t("model.embed_tokens.weight", DType.BF16, 32000, 4096)));
        assertFalse(WUDI.selects(t("lm_head.weight", DType.BF16, 32000, 4096)));
        assertFalse(WUDI.selects(t("classifier.weight", DType.F32, 10, 768)));
        assertFalse(WUDI.selects(t("score.weight", DType.F32, 2, 768)));
        assertFalse(WUDI.selects(t("head.weight", DType.F32, 10, 128)));
        assertFalse(WUDI.selects(t("vit.embeddings.position_embeddings", DType.F32, 197, 768)));
        assertFalse(WUDI.selects(t("model.layers.0.input_layernorm.weight", DType.F32, 4096)), "1-D");
        assertFalse(WUDI.selects(t("conv.weight", DType.F32, 64, 3, 7, 7)), "conv needs --include");
        assertFalse(WUDI.selects(t("model.layers.0.q.weight", DType.I64, 8, 8)), "not floating");
        assertFalse(WUDI.selects(t("model.layers.0.q.weight", DType.F64, 8, 8)), "F64 is carried through");
    }

    @Test
    void includeReplacesScopeAndExcludeWins() {
        TensorSelection s = new TensorSelection(MergeMethod.Scope.LINEAR_WEIGHTS, Pattern.compile("embed|conv"),
                Pattern.compile("layers\\.0\\."), true);
        assertTrue(s.selects(t("model.embed_tokens.weight", DType.F32, 100, 16)));
        assertTrue(s.selects(t("conv.weight", DType.F32, 64, 3, 7, 7)));
        assertFalse(s.selects(t("model.layers.1.mlp.up_proj.weight", DType.F32, 40, 16)), "not included");
        assertFalse(s.selects(t("model.layers.0.embed.weight", DType.F32, 40, 16)), "excluded");
        assertFalse(s.selects(t("embed.bias", DType.F32, 16)), "WUDI needs a matrix");
    }

    @Test
    void elementwiseScopeTakesEveryFloatingTensor() {
        TensorSelection s = new TensorSelection(MergeMethod.Scope.ALL_FLOATING, null, null, false);
        assertTrue(s.selects(t("model.embed_tokens.weight", DType.F32, 100, 16)));
        assertTrue(s.selects(t("model.norm.weight", DType.F16, 16)));
        assertFalse(s.selects(t("model.position_ids", DType.I64, 1, 8)));
    }
}
