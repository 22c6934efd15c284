package dev.wudi.merge;

import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.checkpoint.TensorRef;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One streaming pass over every floating tensor of the base and the models before anything is merged:
 * a NaN or an infinity fails the merge naming tensor, file and element (unless allowed), and a model
 * whose every floating tensor equals the base's (a zero task vector) is warned about. Tensors are
 * read from the mappings in chunks, decoded in bulk, so memory stays at two chunks.
 */
final class InputScan {

    /** Elements per read: 4 MB of float32 per buffer. */
    static final int CHUNK = 1 << 20;

    private static final int NONFINITE_WARNINGS_AT_MOST = 10;

    private InputScan() {
    }

    static List<String> run(Checkpoint base, List<Checkpoint> models, boolean allowNonFinite, Cancellation cancel)
            throws IOException {
        List<String> warnings = new ArrayList<>();
        boolean[] differs = new boolean[models.size()];
        int nonFiniteTensors = 0;
        float[] b = null;
        float[] m = null;
        for (String name : base.names()) {
            TensorRef baseRef = base.tensor(name);
            if (!baseRef.info().dtype().mergeable()) {
                continue; // copied from the base byte for byte, never computed with
            }
            long numel = baseRef.info().numel();
            int cap = (int) Math.min(CHUNK, Math.max(1, numel));
            if (b == null || b.length < cap) {
                b = new float[cap];
                m = new float[cap];
            }
            long[] firstBad = new long[models.size() + 1];
            long[] badCount = new long[models.size() + 1];
            java.util.Arrays.fill(firstBad, -1);
            for (long first = 0; first < numel; first += cap) {
                cancel.check();
                int count = (int) Math.min(cap, numel - first);
                baseRef.readFloats(first, b, 0, count);
                note(b, count, first, 0, firstBad, badCount);
                for (int i = 0; i < models.size(); i++) {
                    TensorRef ref = models.get(i).tensor(name);
                    if (!ref.info().dtype().mergeable()) {
                        continue; // Preflight reports the dtype mismatch
                    }
                    ref.readFloats(first, m, 0, count);
                    note(m, count, first, i + 1, firstBad, badCount);
                    if (!differs[i] && java.util.Arrays.mismatch(b, 0, count, m, 0, count) >= 0) {
                        differs[i] = true;
                    }
                }
            }
            for (int k = 0; k <= models.size(); k++) {
                if (badCount[k] == 0) {
                    continue;
                }
                Path file = (k == 0 ? baseRef : models.get(k - 1).tensor(name)).path();
                float v = value(k == 0 ? baseRef : models.get(k - 1).tensor(name), firstBad[k]);
                String what = "tensor " + name + " in " + file + " holds " + (Float.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf")
                        + " at element " + firstBad[k] + (badCount[k] > 1 ? " (" + badCount[k] + " non-finite values in all)" : "");
                if (!allowNonFinite) {
                    throw new CheckpointException(what + "; non-finite weights usually mean a broken fine-tune or"
                            + " download; pass --allow-nonfinite to merge anyway");
                }
                if (nonFiniteTensors++ < NONFINITE_WARNINGS_AT_MOST) {
                    warnings.add(what + " (allowed by --allow-nonfinite)");
                }
            }
        }
        if (nonFiniteTensors > NONFINITE_WARNINGS_AT_MOST) {
            warnings.add((nonFiniteTensors - NONFINITE_WARNINGS_AT_MOST) + " more tensors hold NaN/Inf (allowed by"
                    + " --allow-nonfinite)");
        }
        Path basePath = base.path().toAbsolutePath().normalize();
        for (int i = 0; i < models.size(); i++) {
            if (differs[i]) {
                continue;
            }
            Checkpoint model = models.get(i);
            if (model.path().toAbsolutePath().normalize().equals(basePath)) {
                warnings.add("model " + model.path() + " is the base itself: its task vector is zero everywhere");
            } else {
                warnings.add("model " + model.path() + " equals the base " + base.path() + " in every floating"
                        + " tensor: its task vector is zero everywhere (merged anyway)");
            }
        }
        return warnings;
    }

    /** Counts non-finite values in a[0, count) and remembers the first one's element index. */
    private static void note(float[] a, int count, long first, int who, long[] firstBad, long[] badCount) {
        int bad = 0;
        int at = -1;
        for (int j = 0; j < count; j++) {
            // exponent bits all ones: Inf or NaN; a branch-free test the JIT keeps cheap
            if ((Float.floatToRawIntBits(a[j]) & 0x7f80_0000) == 0x7f80_0000) {
                if (at < 0) {
                    at = j;
                }
                bad++;
            }
        }
        if (bad > 0) {
            if (firstBad[who] < 0) {
                firstBad[who] = first + at;
            }
            badCount[who] += bad;
        }
    }

    private static float value(TensorRef ref, long element) throws IOException {
        float[] one = new float[1];
        ref.readFloats(element, one, 0, 1);
        return one[0];
    }
}
