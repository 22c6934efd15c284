package dev.wudi.realmodels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.format.DType;
import dev.wudi.hub.HubFolder;
import dev.wudi.hub.HubModels;
import dev.wudi.hub.Model;
import dev.wudi.hub.Tensor;
import dev.wudi.hub.Wudi;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tolerance stops where the models are not fine-tunes of one base: another body in config.json, body tensors of
 * another shape (two variants of one family), body tensors one side lacks. Each is refused with one line naming
 * the fields or the first tensors, and nothing is written. Options that cannot fit the inputs are usage errors.
 */
class NotFineTunesOfOneBaseTest {

    @TempDir
    Path tmp;

    private Wudi.Result merge(Path base, Path model, String... more) {
        String[] a = {"merge", "--base", base.toString(), "--model", model.toString(), "--out",
            tmp.resolve("out").toString(), "--iters", "2"};
        String[] all = new String[a.length + more.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(more, 0, all, a.length, more.length);
        return Wudi.run(all);
    }

    private void refused(Wudi.Result r, int exit, String... phrases) {
        assertEquals(exit, r.exit(), r.toString());
        for (String p : phrases) {
            assertTrue(r.err().contains(p), "'" + p + "' in:\n" + r.err());
        }
        assertFalse(r.err().contains("\tat "), "no stack trace:\n" + r.err());
        assertFalse(Files.exists(tmp.resolve("out")), "nothing written");
    }

    @Test
    void anotherBodyInConfigJsonIsRefusedNamingTheFields() throws Exception {
        Path base = HubFolder.write(tmp.resolve("one"), HubModels.llama(1, 32, 48, 4, 2, 40, true, 1), DType.F32);
        Path two = HubFolder.write(tmp.resolve("two"), HubModels.llama(2, 32, 64, 4, 2, 40, true, 1), DType.F32);
        refused(merge(base, two), 1, "is not a fine-tune of the base",
                "intermediate_size (base 48, model 64)", "num_hidden_layers (base 1, model 2)");
    }

    @Test
    void twoVariantsOfOneFamilyAreRefusedNamingTheFirstTensor() throws Exception {
        Model a = HubModels.llama(1, 32, 48, 4, 2, 40, true, 1);
        Model b = HubModels.llama(1, 32, 64, 4, 2, 40, true, 1);
        b.config().put("intermediate_size", 48);       // a config that lies: the tensors still tell
        Path base = HubFolder.write(tmp.resolve("a"), a, DType.F32);
        Path other = HubFolder.write(tmp.resolve("b"), b, DType.F32);
        refused(merge(base, other), 1, "tensor model.layers.0.mlp.gate_proj.weight has shape [48, 32]",
                "but [64, 32]", "not fine-tunes of one base");
    }

    @Test
    void bodyTensorsOneSideLacksAreRefused() throws Exception {
        Model a = HubModels.llama(1, 32, 48, 4, 2, 40, true, 1);
        Path base = HubFolder.write(tmp.resolve("a"), a, DType.F32);
        Model fewer = a.copy();
        fewer.tensors().remove("model.layers.0.mlp.up_proj.weight");
        refused(merge(base, HubFolder.write(tmp.resolve("fewer"), fewer, DType.F32)), 1,
                "lacks 1 tensor of the body that the base", "model.layers.0.mlp.up_proj.weight");
        Model more = a.copy();
        more.tensors().put("model.layers.1.mlp.up_proj.weight", a.tensor("model.layers.0.mlp.up_proj.weight"));
        refused(merge(base, HubFolder.write(tmp.resolve("more"), more, DType.F32)), 1,
                "has 1 tensor of the body that the base", "lacks: model.layers.1.mlp.up_proj.weight");
    }

    @Test
    void aSmallerVocabularyIsRefused() throws Exception {
        Model big = HubModels.llama(1, 32, 48, 4, 2, 40, false, 1);
        Path base = HubFolder.write(tmp.resolve("big"), HubModels.withExtraVocabRows(big, 4, 2), DType.F32);
        refused(merge(base, HubFolder.write(tmp.resolve("small"), big, DType.F32)), 1,
                "model.embed_tokens.weight has shape [44, 32]", "a smaller vocabulary than the base's");
    }

    @Test
    void optionsThatCannotFitAreUsageErrors() throws Exception {
        Model a = HubModels.llama(1, 32, 48, 4, 2, 40, true, 1);
        Path base = HubFolder.write(tmp.resolve("a"), a, DType.F32);
        Path m = HubFolder.write(tmp.resolve("m"), HubModels.fineTune(a, "proj", 2, 0.01, 3), DType.F32);
        refused(merge(base, m, "--layout", "q_proj=sideways"), 2, "unknown layout 'sideways'");
        refused(merge(base, m, "--layout", "nothing_like_this=in-out"), 2, "--layout nothing_like_this=in-out matches no tensor");
        refused(merge(base, m, "--layout", "q_proj=experts-out-in"), 2, "matches no tensor of the base of a rank");
        refused(merge(base, m, "--heads", "some"), 2, "unknown --heads 'some'");
        refused(merge(base, m, "--vocab", "union"), 2, "unknown --vocab 'union'");
        Map<String, Tensor> file = new LinkedHashMap<>(a.tensors());
        Path single = tmp.resolve("single.safetensors");
        HubFolder.writeSafetensors(single, file, DType.F32, Map.of());
        Path singleModel = tmp.resolve("single-m.safetensors");
        HubFolder.writeSafetensors(singleModel, HubModels.fineTune(a, "proj", 2, 0.01, 3).tensors(), DType.F32, Map.of());
        refused(merge(single, singleModel, "--heads", "save"), 2, "--heads save writes OUT/heads/, which needs a folder");
    }
}
