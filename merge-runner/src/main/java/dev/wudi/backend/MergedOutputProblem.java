package dev.wudi.backend;

import dev.wudi.format.DType;
import java.nio.ByteBuffer;

/**
 * Optional extension of {@link WudiProblem} for backends that hold W_0 themselves (a
 * {@link CheckpointWudiProblem} given {@code setBase}): the solve also forms the merged weight
 * W = W_0 + tau_m where tau_m lies (float32 add, specification 2), encodes it in the output dtype (round to nearest
 * even, NaN kept NaN) and hands back those bytes, so a 16-bit output crosses PCIe at 2 bytes per element
 * instead of 4. The bytes equal, bit for bit, {@code Floats.encode(out, w0[j] + tauM[j])} of the host path
 * for every finite value. A merge loop uses it only through {@code instanceof}:
 * <pre>
 *   boolean onDevice = p instanceof MergedOutputProblem m &amp;&amp; m.mergeOnDevice(outDType);
 *   WudiResult r = p.solve(spec, listener);          // r.tauM() is empty when onDevice
 *   ByteBuffer w = onDevice ? ((MergedOutputProblem) p).mergedWeights() : null;
 * </pre>
 */
public interface MergedOutputProblem extends WudiProblem {

    /**
     * Asks the next solve to form W_0 + tau_m in {@code out} instead of returning tau_m. Call after the task
     * vectors were added and before the solve.
     *
     * @return false (and nothing changes) where this problem cannot: no W_0 was given through setBase, the dtype
     *         is not F32/F16/BF16, or the encoded tensor would not fit one ByteBuffer
     */
    boolean mergeOnDevice(DType out);

    /**
     * The merged weight of the last solve after {@link #mergeOnDevice} said true: rows*cols little-endian
     * elements of the requested dtype, from position 0 to the limit. That solve's {@link WudiResult#tauM()} is
     * empty; its losses are as always.
     *
     * @throws IllegalStateException if no such solve ran
     */
    ByteBuffer mergedWeights();
}
