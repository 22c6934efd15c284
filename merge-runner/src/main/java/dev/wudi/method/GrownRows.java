package dev.wudi.method;

import dev.wudi.checkpoint.TensorRef;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A vocabulary tensor that fine-tunes grew with added tokens ([V + k, d] where the base has [V, d]): the base's
 * V rows are computed by the tensor's usual rule from every model's first V rows, and each added row r is the
 * mean of row r over the models that have it (one model: its row, bit for bit). Rows are written in order, so
 * the output is [max rows, d] row-major; memory holds one chunk of rows per model.
 */
public final class GrownRows implements TensorRule {

    private static final int CHUNK = 1 << 20;

    private final TensorRule baseRows;
    private final long outRows;

    /**
     * @param baseRows the rule for the rows the base has
     * @param outRows  the output's row count (the largest among the models)
     */
    public GrownRows(TensorRule baseRows, long outRows) {
        this.baseRows = baseRows;
        this.outRows = outRows;
    }

    @Override
    public String label() {
        return baseRows.label() + " + added rows";
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        long[] shape = job.info().shape();
        long v = shape[0];
        long rowSize = job.numel() / Math.max(1, v);
        List<TensorRef> firstRows = new ArrayList<>();
        for (TensorRef m : job.models()) {
            firstRows.add(m.slice(0, shape));
        }
        TensorOutcome inner = baseRows.apply(job.with(job.base(), firstRows, job.layout()), sink);
        int rowsPerChunk = (int) Math.max(1, CHUNK / Math.max(1, rowSize));
        float[] sum = new float[(int) Math.min((long) rowsPerChunk * rowSize, Integer.MAX_VALUE - 8)];
        float[] row = new float[sum.length];
        for (long r0 = v; r0 < outRows; r0 += rowsPerChunk) {
            int rows = (int) Math.min(rowsPerChunk, outRows - r0);
            int count = (int) (rows * rowSize);
            java.util.Arrays.fill(sum, 0, count, 0f);
            int[] have = new int[rows];
            for (TensorRef m : job.models()) {
                long mRows = m.info().shape()[0];
                int take = (int) Math.max(0, Math.min(rows, mRows - r0));
                if (take == 0) {
                    continue;
                }
                m.readFloats(r0 * rowSize, row, 0, (int) (take * rowSize));
                for (int j = 0; j < take * rowSize; j++) {
                    sum[j] += row[j];
                }
                for (int k = 0; k < take; k++) {
                    have[k]++;
                }
            }
            for (int k = 0; k < rows; k++) {
                if (have[k] == 0) {
                    throw new IllegalStateException("tensor " + job.name() + ": no model has row " + (r0 + k));
                }
                if (have[k] > 1) {
                    float n = have[k];
                    for (long j = k * rowSize; j < (k + 1) * rowSize; j++) {
                        sum[(int) j] /= n;                 // the mean of the models that added this row
                    }
                }
            }
            sink.writeFloats(sum, 0, count);
        }
        Map<String, Double> details = new LinkedHashMap<>(inner.details());
        details.put("added_rows", (double) (outRows - v));
        return new TensorOutcome(inner.lossBefore(), inner.lossAfter(), details, inner.zeroTaskVectors());
    }
}
