package dev.wudi.method;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Keeps the base's value (what the official WUDI code does for tensors it does not optimise). Copies
 * bytes verbatim when the output dtype is the base's, so non-float tensors pass through untouched.
 */
public final class BaseCopy implements TensorRule {

    private static final int COPY_BYTES = 8 << 20;

    @Override
    public String label() {
        return "base";
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        if (job.outDType() == job.info().dtype()) {
            long size = job.info().byteSize();
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(COPY_BYTES, Math.max(size, 1)));
            for (long off = 0; off < size; off += buf.capacity()) {
                buf.clear();
                buf.limit((int) Math.min(buf.capacity(), size - off));
                job.base().readBytes(off, buf);
                buf.flip();
                sink.writeRaw(buf);
            }
        } else {
            Chunks.forEach(job, (first, count, base, models, out) -> sink.writeFloats(base, 0, count));
        }
        return TensorOutcome.NONE;
    }
}
