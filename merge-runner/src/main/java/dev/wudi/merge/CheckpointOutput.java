package dev.wudi.merge;

import dev.wudi.checkpoint.CheckpointWriter;
import dev.wudi.checkpoint.OutputGuard;
import dev.wudi.checkpoint.UsageMistakeException;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import dev.wudi.method.TensorOutcome;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A merge written as a checkpoint (a file, or a folder with its shards, config, tokenizer, card and heads): under a
 * temporary name with a journal, each tensor fsynced and journaled as it completes, so that an interrupted or failed
 * merge keeps what it completed for --resume; renamed into place only when complete, once what is at --out has been
 * checked again.
 */
final class CheckpointOutput implements TensorLoop.Target {

    private final MergeSession session;
    private final CheckpointWriter writer;

    private CheckpointOutput(MergeSession session, CheckpointWriter writer) {
        this.session = session;
        this.writer = writer;
    }

    /**
     * Merges every tensor of the session's plan into its output with these rules, resuming the journaled partial
     * output where --resume asks, and returns the report.
     *
     * @param resume         continue the partial output of an earlier run
     * @param inputWarnings  what was said of the inputs (the report keeps them)
     */
    static MergeReport write(MergeSession session, TensorRules rules, TensorLoop loop, String backendName,
                             boolean resume, List<String> inputWarnings, long start) throws IOException {
        MergePlan plan = session.plan();
        List<MergePlan.Entry> entries = plan.entries();
        List<TensorSpec> specs = TensorLoop.specs(plan);
        loop.started(loop.rulesOf(entries));
        Map<String, String> metadata = new LinkedHashMap<>(session.base().metadata());
        OutputFiles files = new OutputFiles(session.spec(), plan, session.base(), session.models(),
                session.adapters());
        MergeListener listener = session.listener();
        try (CheckpointWriter writer = CheckpointWriter.create(session.spec().out(), session.base().isFolder(), specs,
                metadata, session.spec().shardBytes(), files.companions(), session.fingerprint(backendName), resume,
                listener::info)) {
            CheckpointOutput target = new CheckpointOutput(session, writer);
            try {
                List<TensorRecord> records = new ArrayList<>();
                long outputBytes = 0;
                int skip = writer.resumedCount();
                for (int i = 0; i < skip; i++) {
                    TensorRecord rec = TensorLoop.fromJson(writer.resumedRecord(i), specs.get(i), entries.get(i));
                    records.add(rec);
                    outputBytes += specs.get(i).byteSize();
                    listener.tensorStarted(i, specs.get(i).name(), rec.method());
                    listener.tensorDone(rec, CostModel.work(entries.get(i), session.spec()));
                }
                List<Integer> rest = new ArrayList<>();
                for (int i = skip; i < entries.size(); i++) {
                    rest.add(i);
                    outputBytes += specs.get(i).byteSize();
                }
                records.addAll(loop.run(rest, target));
                session.safety().cancellation().check();
                MergeReport report = Reports.of(session, rules, records, inputWarnings, start, outputBytes);
                writer.generateAtCommit(dir -> files.writeInto(dir, report));
                target.commit();
                return Reports.timed(report, start);
            } catch (Failure e) {
                throw (RuntimeException) e.getCause();     // said in full, its partial kept as it says
            } catch (WriteFailure e) {
                // hours of completed tensors are worth more than the disk space they hold until a resume
                throw new IOException(e.getMessage() + target.kept(specs.size(), "are complete and kept in",
                        ": free space and rerun the same command with --resume to continue"), e.getCause());
            } catch (NonFiniteResult e) {
                // as for a full disk: the tensors before this one are done and journaled
                throw e.withMessage(e.getMessage() + target.kept(specs.size(), "are complete and kept in",
                        " for --resume"));
            } catch (TensorLoop.OutOfMemory e) {
                // as for a full disk: the tensors before this one are done, and a JVM given more memory resumes there
                throw new IOException(e.getMessage() + target.kept(specs.size(), "are complete and kept in",
                        ": rerun the same command with more memory and --resume to continue"), e.getCause());
            } catch (MergeInterruptedException e) {
                throw new MergeInterruptedException(e.getMessage() + target.kept(specs.size(), "are kept in",
                        ": rerun the same command with --resume to continue"));
            }
        }
    }

    /** Puts the finished output in place, once what is at --out now has been checked again. */
    private void commit() throws IOException {
        // hours may have passed: whatever is at --out now must still be plainly an earlier output
        try {
            OutputGuard.checkReplaceable(OutputCheck.outTarget(session.spec(), session.base()), session.spec().force());
        } catch (UsageMistakeException e) {
            writer.keepPartialOnClose();
            throw new Failure(new UsageMistakeException(e.getMessage() + " (it appeared during the merge); the merge"
                    + " is complete in " + writer.temporaryPath() + ": move " + session.spec().out() + " away and"
                    + " rerun the same command with --resume to put it in place"));
        }
        try {
            writer.commit();
        } catch (IOException e) {
            throw writeFailed(writer, "finishing the output", e);
        }
    }

    @Override
    public TensorLoop.TensorOut out(int index, MergePlan.Entry e, TensorSpec spec) {
        return new TensorLoop.TensorOut() {
            @Override
            public void writeFloats(float[] src, int off, int count, int elementBytes) throws IOException {
                writer.writeFloats(src, off, count, elementBytes);
            }

            @Override
            public void write(ByteBuffer bytes) throws IOException {
                writer.write(bytes);
            }

            @Override
            public IOException failed(String doing, IOException e) {
                return writeFailed(writer, doing, e);
            }
        };
    }

    @Override
    public TensorRecord done(int index, MergePlan.Entry e, TensorRecord record, TensorOutcome outcome)
            throws IOException {
        try {
            writer.tensorDone(index, e.name(), TensorLoop.toJson(record));
        } catch (IOException ex) {
            throw writeFailed(writer, "writing tensor " + e.name(), ex);
        }
        return record;
    }

    /**
     * Keeps a failed merge's partial output for --resume and says so: "; N of M tensors ARE kept in TMP HOW", or that
     * the temporary output was removed where no tensor was complete.
     */
    private String kept(int total, String are, String how) {
        writer.keepPartialOnClose();
        return writer.keepsPartial() ? "; " + writer.completedCount() + " of " + total + " tensors " + are + " "
                + writer.temporaryPath() + how : "; the temporary output was removed";
    }

    /** A failed write (disk full, I/O error) as one line: the file, what was being written, why. */
    private static IOException writeFailed(CheckpointWriter writer, String doing, IOException e) {
        String why = e instanceof java.nio.file.FileSystemException fse && fse.getReason() != null ? fse.getReason()
                : e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        Path file = e instanceof java.nio.file.FileSystemException fse && fse.getFile() != null
                ? Path.of(fse.getFile()) : writer.currentFile();
        return new WriteFailure(file + ": " + doing + " failed: " + why
                + (why.contains("No space left") ? "" : " (is the disk full?)"), e);
    }

    /**
     * A write to the output failed (a full disk, a file size limit, a lost network share). The tensors completed
     * before it are on disk and journaled, so the partial output is kept for --resume.
     */
    private static final class WriteFailure extends IOException {
        private static final long serialVersionUID = 1L;

        WriteFailure(String message, IOException cause) {
            super(message, cause);
        }
    }

    /** A failure already said in full (its partial output kept as it says), passed through the handlers above. */
    private static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failure(RuntimeException cause) {
            super(cause);
        }
    }
}
