package dev.wudi.hub;

import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Copies of real adapter folders cut to a test base's size, or changed to exercise one rule. */
public final class AdapterFolders {

    private static final Pattern LAYER = Pattern.compile("\\.(?:h|layer|layers)\\.(\\d+)\\.");

    private AdapterFolders() {
    }

    /**
     * The adapter with only the tensors of layers [0, layers) and those of no layer (heads), its config as it is:
     * what the adapter would be on a base of that depth.
     */
    public static Path firstLayers(Path adapter, Path dst, int layers) throws IOException {
        return filtered(adapter, dst, name -> {
            Matcher m = LAYER.matcher(name);
            return !m.find() || Integer.parseInt(m.group(1)) < layers;
        });
    }

    /** The adapter with one value of one tensor changed (a NaN, say), the rest as it is. */
    public static Path withValue(Path adapter, Path dst, String tensor, int element, float value) throws IOException {
        return rewritten(adapter, dst, n -> true, (n, v) -> {
            if (n.equals(tensor)) {
                v[element] = value;
            }
        });
    }

    /** The adapter with one more tensor saved in full (a module_to_save), the rest as it is. */
    public static Path withExtra(Path adapter, Path dst, String name, Tensor extra) throws IOException {
        Path d = filtered(adapter, dst, n -> true);
        Map<String, Tensor> all = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(d.resolve(PeftAdapter.WEIGHTS))) {
            for (TensorInfo t : f.tensors()) {
                float[] v = new float[Math.toIntExact(t.numel())];
                f.readFloats(t, 0, v, 0, v.length);
                all.put(t.name(), new Tensor(v, t.shape().clone()));
            }
        }
        all.put(name, extra);
        HubFolder.writeSafetensors(d.resolve(PeftAdapter.WEIGHTS), all, DType.F32, Map.of());
        return d;
    }

    /** The adapter with the tensors name passes, and its config as it is. */
    public static Path filtered(Path adapter, Path dst, Predicate<String> keep) throws IOException {
        return rewritten(adapter, dst, keep, (n, v) -> { });
    }

    private static Path rewritten(Path adapter, Path dst, Predicate<String> keep,
                                  java.util.function.BiConsumer<String, float[]> change) throws IOException {
        Files.createDirectories(dst);
        Files.copy(adapter.resolve(PeftAdapter.CONFIG), dst.resolve(PeftAdapter.CONFIG));
        Map<String, Tensor> kept = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(adapter.resolve(PeftAdapter.WEIGHTS))) {
            for (TensorInfo t : f.tensors()) {
                if (keep.test(t.name())) {
                    float[] v = new float[Math.toIntExact(t.numel())];
                    f.readFloats(t, 0, v, 0, v.length);
                    change.accept(t.name(), v);
                    kept.put(t.name(), new Tensor(v, t.shape().clone()));
                }
            }
        }
        HubFolder.writeSafetensors(dst.resolve(PeftAdapter.WEIGHTS), kept, DType.F32, Map.of());
        return dst;
    }
}
