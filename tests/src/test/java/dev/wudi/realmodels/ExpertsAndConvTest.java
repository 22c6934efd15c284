package dev.wudi.realmodels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wudi.format.DType;
import dev.wudi.hub.HubFolder;
import dev.wudi.hub.HubModels;
import dev.wudi.hub.Model;
import dev.wudi.hub.Tensor;
import dev.wudi.hub.Wudi;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stacked expert tensors of mixture-of-experts checkpoints are one linear layer per expert (specification 2: the loss is
 * per matrix), in the [E, out, in] layout of transformers v5's F.linear experts and the [E, in, out] layout of
 * GPT-OSS and Llama 4; convolutions are one [out, in*k*k] matrix (specification 3). Each is checked against the same
 * merge done on explicit 2-D tensors.
 */
class ExpertsAndConvTest {

    @TempDir
    Path tmp;

    /** The model with every 3-D experts tensor X [E, a, b] split into E nn.Linear weights X.e.weight. */
    private static Model unstacked(Model fused, boolean inOut) {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        fused.tensors().forEach((n, t) -> {
            if (t.rank() != 3) {
                out.put(n, t);
                return;
            }
            int e = (int) t.shape()[0];
            int a = (int) t.shape()[1];
            int b = (int) t.shape()[2];
            for (int k = 0; k < e; k++) {
                Tensor m = new Tensor(Arrays.copyOfRange(t.data(), k * a * b, (k + 1) * a * b), new long[] {a, b});
                out.put(n + "." + k + ".weight", inOut ? m.transpose() : m);
            }
        });
        return new Model(fused.config().deepCopy(), out);
    }

    private static List<String> args(Path base, List<Path> models, Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("merge", "--base", base.toString()));
        models.forEach(m -> a.addAll(List.of("--model", m.toString())));
        a.addAll(List.of("--out", out.toString(), "--lr", "1e-4", "--iters", "40"));
        a.addAll(List.of(more));
        return a;
    }

    @ParameterizedTest(name = "in-out {0}")
    @ValueSource(booleans = {false, true})
    void stackedExpertsEqualOneMergePerExpert(boolean inOut) throws Exception {
        Model moe = HubModels.fusedExperts(HubModels.qwen2Moe(1, 16, 4, 8, 12, 40, 3), inOut);
        List<Model> fts = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            fts.add(HubModels.fineTune(moe, "experts|self_attn", 2, 0.01, 20 + i));
        }
        Path fusedOut = tmp.resolve("fused-out");
        Path twoDOut = tmp.resolve("2d-out");
        Path report = tmp.resolve("fused.json");
        List<Path> fused = new ArrayList<>();
        List<Path> twoD = new ArrayList<>();
        for (int i = 0; i < fts.size(); i++) {
            fused.add(HubFolder.write(tmp.resolve("fused" + i), fts.get(i), DType.F32));
            twoD.add(HubFolder.write(tmp.resolve("2d" + i), unstacked(fts.get(i), inOut), DType.F32));
        }
        Path fusedBase = HubFolder.write(tmp.resolve("fused-base"), moe, DType.F32);
        Path twoDBase = HubFolder.write(tmp.resolve("2d-base"), unstacked(moe, inOut), DType.F32);
        List<String> a = args(fusedBase, fused, fusedOut, "--report", report.toString());
        Wudi.ok(a.toArray(new String[0]));
        Wudi.ok(args(twoDBase, twoD, twoDOut).toArray(new String[0]));

        Map<String, Tensor> f = Wudi.tensors(fusedOut);
        Map<String, Tensor> d = Wudi.tensors(twoDOut);
        JsonNode r = Wudi.json(report);
        int stacks = 0;
        for (Map.Entry<String, Tensor> e : f.entrySet()) {
            Tensor t = e.getValue();
            if (t.rank() != 3) {
                assertArrayEquals(d.get(e.getKey()).data(), t.data(), e.getKey());
                continue;
            }
            stacks++;
            JsonNode rec = Wudi.record(r, e.getKey());
            assertEquals(inOut ? "experts-in-out" : "experts-out-in", rec.get("layout").asText());
            assertEquals("wudi", rec.get("method").asText());
            assertEquals(4.0, rec.get("solver").get("matrices").asDouble());
            int size = (int) (t.shape()[1] * t.shape()[2]);
            double lossAfter = 0;
            for (int k = 0; k < t.shape()[0]; k++) {
                Tensor expert = d.get(e.getKey() + "." + k + ".weight");
                Tensor want = inOut ? expert.transpose() : expert;
                assertArrayEquals(want.data(), Arrays.copyOfRange(t.data(), k * size, (k + 1) * size),
                        e.getKey() + " expert " + k);
            }
            assertTrue(rec.get("loss_after").asDouble() < rec.get("loss_before").asDouble());
        }
        assertEquals(2, stacks, "gate_up_proj and down_proj");
    }

    @Test
    void convolutionIsOneMatrixOutByInKK() throws Exception {
        Random rnd = new Random(4);
        List<Path> files = new ArrayList<>();
        float[] base = null;
        for (int i = 0; i < 3; i++) {
            float[] v = new float[8 * 27];
            Random br = new Random(1);
            for (int j = 0; j < v.length; j++) {
                v[j] = (float) (br.nextGaussian() * 0.1 + (i == 0 ? 0 : rnd.nextGaussian() * 0.01));
            }
            if (i == 0) {
                base = v;
            }
            Map<String, Tensor> t = new LinkedHashMap<>();
            t.put("features.conv.weight", new Tensor(v, new long[] {8, 3, 3, 3}));
            t.put("features.fc.weight", new Tensor(v.clone(), new long[] {8, 27}));
            Path p = tmp.resolve("conv" + i + ".safetensors");
            HubFolder.writeSafetensors(p, t, DType.F32, Map.of());
            files.add(p);
        }
        Path out = tmp.resolve("conv-out.safetensors");
        Path report = tmp.resolve("conv.json");
        Wudi.ok(args(files.get(0), files.subList(1, 3), out, "--include", "conv|fc", "--report", report.toString())
                .toArray(new String[0]));
        Map<String, Tensor> m = Wudi.tensors(out);
        assertArrayEquals(new long[] {8, 3, 3, 3}, m.get("features.conv.weight").shape());
        assertArrayEquals(m.get("features.fc.weight").data(), m.get("features.conv.weight").data());
        assertTrue(!Arrays.equals(base, m.get("features.conv.weight").data()), "merged, not kept");
        assertEquals("conv", Wudi.record(Wudi.json(report), "features.conv.weight").get("layout").asText());

        // without --include a convolution is not in WUDI's scope (specification 3: linear weights); the plan says so
        Wudi.Result plan = Wudi.ok("plan", "--json", "--base", files.get(0).toString(), "--model",
                files.get(1).toString(), "--model", files.get(2).toString());
        JsonNode p = new ObjectMapper().readTree(plan.out());
        JsonNode conv = p.get("tensors").get(0);
        assertEquals("features.conv.weight", conv.get("name").asText());
        assertEquals("conv", conv.get("layout").asText());
        assertEquals("rest: average", conv.get("label").asText());   // the default merge averages the rest
        assertEquals(27, conv.get("matrices").get("in").asInt());
    }
}
