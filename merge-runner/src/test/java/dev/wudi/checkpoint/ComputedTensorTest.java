package dev.wudi.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.format.DType;
import dev.wudi.format.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** A computed tensor read through TensorRef like a stored F32 one: floats, bytes, slices. */
class ComputedTensorTest {

    /** Element i has value i + 0.5. */
    record Ramp(long[] shape) implements ComputedTensor {
        @Override
        public TensorInfo info() {
            return new TensorInfo("ramp", DType.F32, shape, 0, 4 * shape[0] * shape[1]);
        }

        @Override
        public Path path() {
            return Path.of("ramp");
        }

        @Override
        public void readFloats(long first, float[] dst, int off, int count) {
            for (int i = 0; i < count; i++) {
                dst[off + i] = first + i + 0.5f;
            }
        }
    }

    @Test
    void readsFloatsBytesAndSlices() throws Exception {
        TensorRef r = TensorRef.computed(new Ramp(new long[] {4, 3}));
        assertNull(r.file());
        assertEquals(Path.of("ramp"), r.path());
        float[] all = new float[12];
        r.readAll(all);
        assertEquals(11.5f, all[11]);
        ByteBuffer b = ByteBuffer.allocate(8);
        r.readBytes(4 * 5, b);
        assertEquals(8, b.position(), "the buffer advances as a stored read does");
        b.flip();
        b.order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(5.5f, b.getFloat());
        assertEquals(6.5f, b.getFloat());
        TensorRef row2 = r.slice(6, new long[] {1, 3});
        assertTrue(row2.isSlice());
        float[] part = new float[3];
        row2.readAll(part);
        assertArrayEquals(new float[] {6.5f, 7.5f, 8.5f}, part);
        assertNull(r.deltaOver(r), "a plain computed tensor is no delta over anything");
        assertTrue(row2.sameElements(r.slice(6, new long[] {1, 3})));
    }
}
