package dev.wudi.lora;

import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.checkpoint.ComputedTensor;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.format.TensorInfo;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The stand-in base of an adapter merge without --base (--as-adapter only): every adapted weight as zeros, in the
 * shape the adapters' factors and fan_in_fan_out give it. Against it each adapter's "fine-tune" is its delta
 * exactly (0 + scaling B A), so the merge computes on the deltas alone, as WUDI's loss does; the base's values are
 * never needed to write an adapter. Nothing else exists in it: tensors an adapter saves in full are heads the base
 * lacks (--heads), and a full tensor of the body (a module_to_save such as embed_tokens) needs the real base.
 */
public final class ZeroBase {

    /** What stands for the base's path in messages. */
    public static final Path PATH = Path.of("(no --base: zeros)");

    private ZeroBase() {
    }

    /** The zero weights of every module the adapters adapt, under the first adapter's name for each. */
    public static Checkpoint of(List<LoraAdapter> adapters) {
        Map<String, TensorRef> tensors = new LinkedHashMap<>();
        Map<String, Path> from = new LinkedHashMap<>();
        for (LoraAdapter a : adapters) {
            for (LoraAdapter.Module m : a.modules()) {
                String name = m.module() + ".weight";
                long[] shape = shape(a, m);
                TensorRef have = tensors.get(name);
                if (have != null && !Arrays.equals(have.info().shape(), shape)) {
                    throw new CheckpointException(a.dir() + ": module " + m.module() + " has a delta of shape "
                            + Arrays.toString(shape) + " but the adapter " + from.get(name) + " one of "
                            + have.info().shapeString() + "; these adapters are not of one base model");
                }
                if (have == null) {
                    tensors.put(name, TensorRef.computed(new Zeros(name, shape)));
                    from.put(name, a.dir());
                }
            }
        }
        return Checkpoint.composed(PATH, false, List.of(), tensors, Map.of());
    }

    /** The stored shape of the module's weight: [out, in] (a Conv2d's [out, in, k, k]); [in, out] under fan_in_fan_out. */
    private static long[] shape(LoraAdapter a, LoraAdapter.Module m) {
        long[] as = m.a().info().shape();
        if (m.embedding() || (a.config().fanInFanOut() && as.length == 2)) {
            return new long[] {m.in(), m.out()};
        }
        if (as.length == 4) {
            return new long[] {m.out(), as[1], as[2], as[3]};
        }
        return new long[] {m.out(), m.in()};
    }

    /** A tensor of zeros, F32. */
    private record Zeros(String name, long[] shape) implements ComputedTensor {

        @Override
        public TensorInfo info() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return new TensorInfo(name, DType.F32, shape.clone(), 0, n * Float.BYTES);
        }

        @Override
        public Path path() {
            return PATH;
        }

        @Override
        public void readFloats(long first, float[] dst, int off, int count) {
            Arrays.fill(dst, off, off + count, 0f);
        }
    }
}
