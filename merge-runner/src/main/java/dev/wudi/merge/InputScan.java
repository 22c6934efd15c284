package dev.wudi.merge;

import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.lora.LoraTensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One streaming pass over every floating tensor of the base and the models before anything is merged:
 * a NaN or an infinity fails the merge naming tensor, file and element (unless allowed), and a model
 * whose every floating tensor equals the base's (a zero task vector) is warned about. Tensors are
 * read from the mappings in chunks, decoded in bulk, so memory stays at two chunks. A LoRA adapter's weight is
 * checked on its factors alone (their values, and the delta's norm from them), never multiplied out here.
 */
public final class InputScan {

    /** Elements per read: 4 MB of float32 per buffer. */
    static final int CHUNK = 1 << 20;

    private static final int NONFINITE_WARNINGS_AT_MOST = 10;

    private InputScan() {
    }

    /**
     * @param baseStandsIn the merge has no base: {@code base} is its first model standing in (no task vectors)
     * @param keptChanged  receives the names of the tensors the rest policy "base" keeps although some fine-tune
     *                     changed them (the summary says how many, and how to merge them instead)
     */
    static List<String> run(MergePlan plan, Checkpoint base, List<Checkpoint> models, boolean baseStandsIn,
                            boolean allowNonFinite, Cancellation cancel, List<String> keptChanged) throws IOException {
        // one process: stop at the first non-finite value when it fails the merge anyway
        Findings all = scan(plan, models.size(), name -> true, !allowNonFinite, cancel);
        return conclude(List.of(all), base, models, baseStandsIn, allowNonFinite, keptChanged);
    }

    /**
     * What a scan of some of the plan's tensors found, for {@link #conclude} to turn into the merge's verdict: a
     * distributed merge scans its tensors in pieces, on several machines, and concludes once.
     *
     * @param found   the tensors with something to say, in plan order
     * @param differs by model (0-based): some tensor it was read for differs from the base's
     */
    public record Findings(List<Found> found, boolean[] differs) implements java.io.Serializable {
    }

    /**
     * One tensor's findings.
     *
     * @param order       its position in the plan (to conclude in plan order, whatever the pieces)
     * @param nonFinite   each of its files' non-finite values, in words, in the order the merge gives them
     * @param keptChanged the rest policy "base" keeps it although a fine-tune changed it
     */
    public record Found(int order, String name, List<String> nonFinite, boolean keptChanged)
            implements java.io.Serializable {
    }

    /**
     * Reads the plan's tensors whose names {@code which} accepts, in chunks (memory: two chunks), and records what it
     * finds without judging it.
     *
     * @param stopAtFirstBad stop after the first tensor holding a non-finite value (it fails the merge)
     */
    static Findings scan(MergePlan plan, int modelCount, java.util.function.Predicate<String> which,
                         boolean stopAtFirstBad, Cancellation cancel) throws IOException {
        List<Found> found = new ArrayList<>();
        boolean[] differs = new boolean[modelCount];
        float[] b = null;
        float[] m = null;
        int order = -1;
        for (MergePlan.Entry e : plan.entries()) {
            order++;
            TensorRef baseRef = e.base();
            if (e.action() == MergePlan.Action.COPY || (baseRef != null && !baseRef.info().dtype().mergeable())
                    || !which.test(e.name())) {
                continue; // copied byte for byte, never computed with (or another piece's)
            }
            List<String> bad = new ArrayList<>();
            boolean kept = false;
            int who = e.sources().size();
            long baseNumel = baseRef == null ? 0 : baseRef.info().numel();
            long numel = baseNumel;
            for (TensorRef r : e.sources()) {
                numel = Math.max(numel, r.info().numel());
            }
            int cap = (int) Math.min(CHUNK, Math.max(1, numel));
            if (b == null || b.length < cap) {
                b = new float[cap];
                m = new float[cap];
            }
            long[] firstBad = new long[who + 1];
            long[] badCount = new long[who + 1];
            java.util.Arrays.fill(firstBad, -1);
            boolean[] lora = new boolean[who];
            for (int k = 0; k < who; k++) {
                TensorRef ref = e.sources().get(k);
                if (ref.computed() instanceof LoraTensor t && ref.deltaOver(baseRef) != null) {
                    // an adapter's weight is checked on its factors: ||s B A||^2 = s^2 tr((B^T B)(A A^T)), no product
                    lora[k] = true;
                    LoraTensor.FactorScan f = t.scan();
                    if (f.factor() != null) {
                        bad.add("tensor " + f.factor().name() + " in " + f.factor().path() + " holds "
                                + (Float.isNaN(f.badValue()) ? "NaN" : f.badValue() > 0 ? "+Inf" : "-Inf")
                                + " at element " + f.firstBad() + (f.badCount() > 1 ? " (" + f.badCount()
                                + " non-finite values in all)" : ""));
                        if (stopAtFirstBad) {
                            found.add(new Found(order, e.name(), bad, false));
                            return new Findings(found, differs);
                        }
                    }
                    if (f.deltaSquaredNorm() != 0) {
                        differs[e.models().get(k)] = true;
                    }
                }
            }
            for (long first = 0; first < numel; first += cap) {
                cancel.check();
                int count = (int) Math.min(cap, numel - first);
                int baseCount = (int) Math.max(0, Math.min(count, baseNumel - first));
                if (baseCount > 0) {
                    baseRef.readFloats(first, b, 0, baseCount);
                    note(b, baseCount, first, 0, firstBad, badCount);
                }
                for (int k = 0; k < who; k++) {
                    TensorRef ref = e.sources().get(k);
                    if (ref == baseRef || lora[k]) {
                        continue;                       // an adapter's untouched tensor, or one checked on its factors
                    }
                    int c = (int) Math.max(0, Math.min(count, ref.info().numel() - first));
                    if (c == 0) {
                        continue;
                    }
                    ref.readFloats(first, m, 0, c);
                    note(m, c, first, k + 1, firstBad, badCount);
                    int i = e.models().get(k);
                    // rows past the base's (a grown vocabulary) and heads the base lacks are changes too
                    boolean changed = c > baseCount || java.util.Arrays.mismatch(b, 0, c, m, 0, c) >= 0;
                    if (changed) {
                        differs[i] = true;
                        kept |= keepsBase(e);
                    }
                }
            }
            for (int k = 0; k <= who; k++) {
                if (badCount[k] == 0) {
                    continue;
                }
                TensorRef ref = k == 0 ? baseRef : e.sources().get(k - 1);
                float v = value(ref, firstBad[k]);
                bad.add("tensor " + ref.name() + " in " + ref.path() + " holds " + (Float.isNaN(v) ? "NaN"
                        : v > 0 ? "+Inf" : "-Inf") + " at element " + firstBad[k]
                        + (badCount[k] > 1 ? " (" + badCount[k] + " non-finite values in all)" : ""));
            }
            if (!bad.isEmpty() || kept) {
                found.add(new Found(order, e.name(), bad, kept));
            }
            if (!bad.isEmpty() && stopAtFirstBad) {
                break;
            }
        }
        return new Findings(found, differs);
    }

    /**
     * The merge's verdict on what the scans of its tensors found, in plan order whatever the pieces: the first
     * non-finite value fails it (unless allowed: then at most {@value #NONFINITE_WARNINGS_AT_MOST} warnings and a count),
     * and a model whose every tensor read equals the base's is warned about.
     *
     * @param baseStandsIn the merge has no base: {@code base} is its first model standing in, whose "task vector"
     *                     is zero by construction and says nothing
     * @param keptChanged  receives the names of the tensors the rest policy "base" keeps although some fine-tune
     *                     changed them
     */
    static List<String> conclude(List<Findings> parts, Checkpoint base, List<Checkpoint> models,
                                 boolean baseStandsIn, boolean allowNonFinite, List<String> keptChanged) {
        List<Found> found = new ArrayList<>();
        boolean[] differs = new boolean[models.size()];
        for (Findings f : parts) {
            found.addAll(f.found());
            for (int i = 0; i < differs.length && i < f.differs().length; i++) {
                differs[i] |= f.differs()[i];
            }
        }
        found.sort(java.util.Comparator.comparingInt(Found::order));
        List<String> warnings = new ArrayList<>();
        int nonFiniteTensors = 0;
        for (Found f : found) {
            for (String what : f.nonFinite()) {
                if (!allowNonFinite) {
                    throw new CheckpointException(what + "; non-finite weights usually mean a broken fine-tune or"
                            + " download; pass --allow-nonfinite to merge anyway");
                }
                if (nonFiniteTensors++ < NONFINITE_WARNINGS_AT_MOST) {
                    warnings.add(what + " (allowed by --allow-nonfinite)");
                }
            }
            if (f.keptChanged()) {
                keptChanged.add(f.name());
            }
        }
        if (nonFiniteTensors > NONFINITE_WARNINGS_AT_MOST) {
            warnings.add((nonFiniteTensors - NONFINITE_WARNINGS_AT_MOST) + " more tensors hold NaN/Inf (allowed by"
                    + " --allow-nonfinite)");
        }
        Path basePath = base.path().toAbsolutePath().normalize();
        for (int i = 0; i < models.size(); i++) {
            if (differs[i] || baseStandsIn) {
                continue;                               // without a base, no model is a fine-tune of one
            }
            Checkpoint model = models.get(i);
            if (model.path().toAbsolutePath().normalize().equals(basePath)) {
                warnings.add("model " + model.path() + " is the base itself: its task vector is zero everywhere");
            } else {
                warnings.add("model " + model.path() + " equals the base " + base.path() + " in every floating"
                        + " tensor the merge takes from it: its task vector is zero everywhere (merged anyway)");
            }
        }
        return warnings;
    }

    /** The rest policy "base" writes this tensor as the base's, whatever the models hold. */
    private static boolean keepsBase(MergePlan.Entry e) {
        return e.action() == MergePlan.Action.REST && e.label().startsWith("rest: base");
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
