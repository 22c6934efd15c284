package dev.wudi.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.checkpoint.FreeSpace;
import dev.wudi.cuda.CudaException;
import dev.wudi.format.DType;
import dev.wudi.format.Floats;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import dev.wudi.format.TensorInfo;
import dev.wudi.method.TensorJob;
import dev.wudi.method.TensorOutcome;
import dev.wudi.method.TensorRule;
import dev.wudi.method.TensorSink;
import dev.wudi.method.WudiRule;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one loop over a merge's tensors: for each, in output order, its rule computes it (or its bytes come from a part
 * computed elsewhere) into the target (a checkpoint being written, a part file, an adapter being assembled), every
 * value checked finite as it is written, and its report record made; the listener hears each start and end. WUDI's
 * tensors run on one device with the next one's task vectors loaded while the current one solves, or are dealt to
 * several devices and written here in order.
 */
final class TensorLoop {

    /** Where the loop's tensors go. */
    interface Target {
        /** Whether the loop computes this tensor (an adapter leaves out those no adapter changes). */
        default boolean takes(MergePlan.Entry e) {
            return true;
        }

        /** Where tensor {@code index}'s bytes go. */
        TensorOut out(int index, MergePlan.Entry e, TensorSpec spec);

        /** The tensor is complete: its record as the report keeps it (a target may add to it). */
        TensorRecord done(int index, MergePlan.Entry e, TensorRecord record, TensorOutcome outcome) throws IOException;
    }

    /** Where a tensor's bytes go, and how a failed write is said. */
    interface TensorOut {
        void writeFloats(float[] src, int off, int count, int elementBytes) throws IOException;

        void write(ByteBuffer bytes) throws IOException;

        /** The failure as one line naming the file and what was being written. */
        IOException failed(String doing, IOException e);
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final MergeSession session;
    private final TensorRules rules;
    private final Merger.Precomputed precomputed;

    /** @param precomputed tensors merged elsewhere, written from their parts (null: none) */
    TensorLoop(MergeSession session, TensorRules rules, Merger.Precomputed precomputed) {
        this.session = session;
        this.rules = rules;
        this.precomputed = precomputed;
    }

    /** Each planned tensor's output spec (name, dtype, shape), in output order. */
    static List<TensorSpec> specs(MergePlan plan) {
        List<TensorSpec> specs = new ArrayList<>();
        for (MergePlan.Entry e : plan.entries()) {
            specs.add(new TensorSpec(e.name(), e.outDType(), e.outShape()));
        }
        return specs;
    }

    /** Each planned tensor's rule. */
    List<TensorRule> rulesOf(List<MergePlan.Entry> entries) {
        List<TensorRule> out = new ArrayList<>();
        entries.forEach(e -> out.add(rules.of(e)));
        return out;
    }

    /** The listener hears the merge start: how many tensors, how many optimised or scored, the work in all. */
    void started(List<TensorRule> ruleList) {
        List<MergePlan.Entry> entries = session.plan().entries();
        int[] counts = rules.counts(ruleList, entries);
        if (counts[1] > 0) {
            session.listener().scoring(counts[1]);
        }
        long totalWork = 0;
        for (MergePlan.Entry e : entries) {
            totalWork += CostModel.work(e, session.spec());
        }
        session.listener().started(entries.size(), counts[0], totalWork);
    }

    /** Computes the tensors at these indices (in order) into the target; their records. */
    List<TensorRecord> run(List<Integer> indices, Target target) throws IOException {
        List<MergePlan.Entry> entries = session.plan().entries();
        List<TensorSpec> specs = specs(session.plan());
        List<TensorRule> ruleList = rulesOf(entries);
        List<Integer> taken = new ArrayList<>();
        for (int i : indices) {
            if (target.takes(entries.get(i)) && !fromPart(entries.get(i))) {
                taken.add(i);
            }
        }
        DeviceDealer dealer = rules.dealer(ruleList, entries, taken);
        List<TensorRecord> records = new ArrayList<>();
        Cancellation cancel = session.safety().cancellation();
        for (int index : indices) {
            cancel.check();
            MergePlan.Entry entry = entries.get(index);
            if (!target.takes(entry)) {
                continue;
            }
            TensorSpec spec = specs.get(index);
            TensorRule rule = ruleList.get(index);
            if (rule instanceof WudiRule wudi && dealer == null) {
                // lets an asynchronous backend load the next WUDI tensor while this one solves
                wudi.upcoming(nextJobOf(rule, ruleList, entries, index));
            }
            TensorOut out = target.out(index, entry, spec);
            Computed c;
            try {
                c = fromPart(entry) ? fromPart(entry, spec, rule, index, out)
                        : mergeOne(entry, spec, rule, index, out, dealer != null && rule == rules.method() ? dealer
                        : null);
            } catch (OutOfMemoryError e) {
                throw new OutOfMemory(spec.name(), CostModel.of(entry, session.spec(), CostModel.NOMINAL_FLOPS,
                        CostModel.NOMINAL_READ_BYTES).peakBytes(), e);
            }
            TensorRecord rec = target.done(index, entry, c.record(), c.outcome());
            records.add(rec);
            session.listener().tensorDone(rec, CostModel.work(entry, session.spec()));
        }
        return records;
    }

    private boolean fromPart(MergePlan.Entry e) {
        return precomputed != null && precomputed.files().containsKey(e.name());
    }

    /** A tensor's record and what its rule found (null where its bytes came from a part). */
    private record Computed(TensorRecord record, TensorOutcome outcome) {
    }

    /** Computes and writes one tensor; every failure names the tensor (and the file where there is one). */
    private Computed mergeOne(MergePlan.Entry entry, TensorSpec spec, TensorRule rule, int index, TensorOut writer,
                              DeviceDealer dealer) throws IOException {
        String name = spec.name();
        TensorJob job = session.job(entry);
        session.listener().tensorStarted(index, name, rule.label(), CostModel.work(entry, session.spec()));
        long t0 = System.nanoTime();
        CountingSink sink = new CountingSink(writer, spec.dtype(), name, session.safety().cancellation(),
                session.safety().allowNonFinite());
        TensorOutcome outcome;
        double seconds = -1;
        Map<String, Double> details = null;
        try {
            if (dealer != null) {
                // computed by one of several devices into memory: written here, in output order
                DeviceDealer.Computed c = dealer.take(index);
                c.output().replay(sink);
                outcome = c.outcome();
                seconds = c.seconds();
                details = new LinkedHashMap<>(outcome.details());
                details.put("device", (double) c.device());      // its position in the --device list
            } else {
                outcome = rule.apply(job, sink);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MergeInterruptedException("interrupted while tensor " + name + " was being merged");
        } catch (NonFiniteResult e) {
            throw NonFiniteCause.described(e, spec.shape(), rule.label(), job, session.adapters());
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(e.getMessage());
        } catch (CudaException e) {
            // the call and its status are in the message; the tensor is added here
            throw new CheckpointException("tensor " + name + ": " + e.getMessage()
                    + "; no output was written (temporary output removed)");
        }
        if (sink.bytes != spec.byteSize()) {
            throw new IllegalStateException("rule " + rule.label() + " wrote " + sink.bytes + " bytes for "
                    + name + ", expected " + spec.byteSize());
        }
        List<Integer> zeros = new ArrayList<>();
        for (int k : outcome.zeroTaskVectors()) {
            if (entry.sources().get(k) != entry.base()) {       // an adapter's untouched tensor is zero as expected
                zeros.add(entry.models().get(k) + 1);
            }
        }
        return new Computed(new TensorRecord(name, rule.label(), spec.shape(), spec.dtype().name(),
                outcome.lossBefore(), outcome.lossAfter(), seconds >= 0 ? seconds : (System.nanoTime() - t0) / 1e9,
                details != null ? details : outcome.details(), entry.role().label(), entry.layout().label(),
                leftOut(entry), zeros), outcome);
    }

    /** A tensor merged elsewhere: its bytes from the part file, its record as computed there. */
    private Computed fromPart(MergePlan.Entry entry, TensorSpec spec, TensorRule rule, int index, TensorOut writer)
            throws IOException {
        String name = spec.name();
        Path file = precomputed.files().get(name);
        session.listener().tensorStarted(index, name, rule.label(), CostModel.work(entry, session.spec()));
        CountingSink sink = new CountingSink(writer, spec.dtype(), name, session.safety().cancellation(),
                session.safety().allowNonFinite());
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            TensorInfo t = f.tensor(name);
            if (t.dtype() != spec.dtype() || !Arrays.equals(t.shape(), spec.shape())) {
                throw new CheckpointException(file + ": tensor " + name + " is " + t.dtype() + " " + t.shapeString()
                        + ", the merge writes " + spec.dtype() + " " + Arrays.toString(spec.shape())
                        + " (a part of another merge?)");
            }
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(8L << 20, Math.max(1, spec.byteSize())));
            for (long at = 0; at < spec.byteSize(); ) {
                buf.clear();
                buf.limit((int) Math.min(buf.capacity(), spec.byteSize() - at));
                f.readBytes(t, at, buf);
                buf.flip();
                at += buf.remaining();
                sink.writeRaw(buf);
            }
        }
        return new Computed(fromJson(JSON.readTree(precomputed.records().get(name)), spec, entry), null);
    }

    /** The next tensor after index that the same rule computes, or null (for WUDI's overlapped uploads). */
    private dev.wudi.method.TensorJob nextJobOf(TensorRule rule, List<TensorRule> rules, List<MergePlan.Entry> entries,
                                               int index) {
        for (int j = index + 1; j < entries.size(); j++) {
            if (rules.get(j) == rule) {
                return session.job(entries.get(j));
            }
        }
        return null;
    }

    private static List<String> leftOut(MergePlan.Entry e) {
        List<String> out = new ArrayList<>();
        e.leftOut().forEach((k, why) -> out.add("model " + (k + 1) + ": " + why));
        return out;
    }

    // ---------------------------------------------------------------- records as the journal keeps them

    /** A report record for the journal (NaN, for tensors no loss applies to, as null). */
    static JsonNode toJson(TensorRecord r) {
        ObjectNode n = JSON.createObjectNode();
        n.put("method", r.method());
        if (Double.isFinite(r.lossBefore())) {
            n.put("loss_before", r.lossBefore());
        }
        if (Double.isFinite(r.lossAfter())) {
            n.put("loss_after", r.lossAfter());
        }
        n.put("seconds", r.seconds());
        ObjectNode details = n.putObject("details");
        r.details().forEach(details::put);
        r.zeroTaskVectors().forEach(n.putArray("zero_task_vectors")::add);
        return n;
    }

    static TensorRecord fromJson(JsonNode n, TensorSpec spec, MergePlan.Entry entry) {
        Map<String, Double> details = new LinkedHashMap<>();
        n.path("details").fields().forEachRemaining(e -> details.put(e.getKey(), e.getValue().asDouble()));
        List<Integer> zeros = new ArrayList<>();
        n.path("zero_task_vectors").forEach(z -> zeros.add(z.asInt()));
        return new TensorRecord(spec.name(), n.path("method").asText("?"), spec.shape(), spec.dtype().name(),
                n.has("loss_before") ? n.get("loss_before").asDouble() : Double.NaN,
                n.has("loss_after") ? n.get("loss_after").asDouble() : Double.NaN, n.path("seconds").asDouble(),
                details, entry.role().label(), entry.layout().label(), leftOut(entry), zeros);
    }

    /**
     * A tensor that ran out of memory: the heap (-Xmx) or JavaCPP's native budget (its maxBytes, which the CLI sets
     * to the machine's memory), or native memory the system refused. Named with the plan's estimate of its peak.
     */
    static final class OutOfMemory extends RuntimeException {
        private static final long serialVersionUID = 1L;

        OutOfMemory(String tensor, long plannedBytes, OutOfMemoryError cause) {
            super("tensor " + tensor + ": out of memory (" + cause.getMessage() + "); `wudi plan` estimates its peak at "
                    + FreeSpace.human(plannedBytes) + " besides the JVM: give the JVM more (WUDI_JAVA_OPTS='-Xmx..'"
                    + " for the heap, -Dorg.bytedeco.javacpp.maxBytes=.. for native buffers) or choose a solver that"
                    + " needs less (`wudi plan --solver ...` compares them)", cause);
        }
    }

    /**
     * Forwards to the target and counts bytes, so a rule that writes too little or too much is caught; checks that
     * every value written is finite in the output dtype (unless --allow-nonfinite); says a failed write with the file
     * and the tensor; honours a stop request between chunks.
     */
    private static final class CountingSink implements TensorSink {
        private final TensorOut writer;
        private final DType dtype;
        private final int elementBytes;
        private final String tensor;
        private final Cancellation cancel;
        /** Whether non-finite values may be written (--allow-nonfinite: the inputs may hold them). */
        private final boolean allowNonFinite;
        long bytes;

        CountingSink(TensorOut writer, DType dtype, String tensor, Cancellation cancel, boolean allowNonFinite) {
            this.writer = writer;
            this.dtype = dtype;
            this.elementBytes = dtype.bytes();
            this.tensor = tensor;
            this.cancel = cancel;
            this.allowNonFinite = allowNonFinite;
        }

        @Override
        public void writeFloats(float[] src, int off, int count) throws IOException {
            cancel.check();
            if (!allowNonFinite && dtype.mergeable()) {
                int bad = Floats.firstNonFinite(dtype, src, off, count);
                if (bad >= 0) {
                    throw new NonFiniteResult(tensor, bytes / elementBytes + bad, src[off + bad]);
                }
            }
            try {
                writer.writeFloats(src, off, count, elementBytes);
            } catch (IOException e) {
                throw writeFailed(e);
            }
            bytes += (long) count * elementBytes;
        }

        @Override
        public void writeRaw(ByteBuffer b) throws IOException {
            cancel.check();
            if (!allowNonFinite && dtype.mergeable()) {
                long bad = Floats.firstNonFinite(dtype, b);
                if (bad >= 0) {
                    throw new NonFiniteResult(tensor, bytes / elementBytes + bad, Floats.valueAt(dtype, b, bad));
                }
            }
            bytes += b.remaining();
            try {
                writer.write(b);
            } catch (IOException e) {
                throw writeFailed(e);
            }
        }

        private IOException writeFailed(IOException e) {
            return writer.failed("writing tensor " + tensor, e);
        }
    }
}
