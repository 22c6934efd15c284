package dev.wudi.backend.cuda;

import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaEvent;
import dev.wudi.cuda.CudaException;
import dev.wudi.cuda.CudaStream;
import dev.wudi.cuda.DeviceBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The device memory of one backend, kept from tensor to tensor: a merge's tensors come in a few shapes, so after the
 * first two of a shape (two are in flight: one solving, the next being uploaded) every buffer a tensor needs is one an
 * earlier tensor gave back, and a warm merge calls neither cuMemAlloc nor cuMemFree (which waits for the whole device)
 * per tensor. Buffers are matched by exact size and lent out ({@link DeviceBuffer#lend}): closing the loan gives it back.
 *
 * <p>Reuse is stream-ordered, without host waits: a buffer given back may still be read by queued work, so its give-back
 * records an event on each of the backend's streams, and the next taker's stream waits for those events before its
 * first use. Any later use on another stream is ordered after that first one by the engine's own events.
 *
 * <p>When the device runs out of memory, the idle buffers are freed (waiting for their events) and the allocation is
 * tried once more. {@code -Dwudi.cuda.poisonPooled=true} fills every buffer taken with 0xff (NaN floats), as the emulated
 * driver does with fresh memory, so that a read of a buffer not yet written shows in tests.
 */
final class DevicePool implements AutoCloseable {

    private static final boolean POISON = Boolean.getBoolean("wudi.cuda.poisonPooled");

    /** One allocation and the events its last give-back recorded (null before the first give-back). */
    private static final class Entry {
        final DeviceBuffer memory;
        CudaEvent[] freeAfter;

        Entry(DeviceBuffer memory) {
            this.memory = memory;
        }
    }

    private final CudaDevice device;
    private final List<CudaStream> streams;
    private final Map<Long, ArrayDeque<Entry>> idle = new HashMap<>();
    private final List<Entry> all = new ArrayList<>();
    private long idleBytes;
    private boolean closed;

    /** @param streams every stream of the backend that touches device memory */
    DevicePool(CudaDevice device, List<CudaStream> streams) {
        this.device = device;
        this.streams = List.copyOf(streams);
    }

    /**
     * A buffer of exactly {@code bytes} for {@code purpose}, safe to use on {@code stream} in stream order; close the
     * loan to give it back.
     *
     * @throws CudaException CUDA_ERROR_OUT_OF_MEMORY when even the idle buffers freed do not make room
     */
    DeviceBuffer take(long bytes, String purpose, CudaStream stream) {
        if (closed) {
            throw new IllegalStateException("the device memory pool of cuda:" + device.ordinal() + " is closed");
        }
        Entry e = null;
        ArrayDeque<Entry> free = idle.get(bytes);
        if (free != null && !free.isEmpty()) {
            e = free.pop();
            idleBytes -= bytes;
            for (CudaEvent ev : e.freeAfter) {
                stream.waitFor(ev);              // the queued work of its last holder comes first
            }
        } else {
            e = new Entry(allocate(bytes, purpose));
            all.add(e);
        }
        DeviceBuffer loan = e.memory.lend(purpose, giveBack(e));
        if (POISON) {
            loan.fillAsync((byte) 0xff, bytes, stream);
        }
        return loan;
    }

    private DeviceBuffer allocate(long bytes, String purpose) {
        try {
            return device.allocate(bytes, purpose);
        } catch (CudaException oom) {
            if (!"CUDA_ERROR_OUT_OF_MEMORY".equals(oom.status()) || idleBytes == 0) {
                throw oom;
            }
            trim();
            return device.allocate(bytes, purpose);
        }
    }

    private Runnable giveBack(Entry e) {
        return () -> {
            if (closed) {
                return;                          // close() freed it already
            }
            device.makeCurrent();
            if (e.freeAfter == null) {
                e.freeAfter = new CudaEvent[streams.size()];
                for (int i = 0; i < e.freeAfter.length; i++) {
                    e.freeAfter[i] = device.newEvent(false);
                }
            }
            for (int i = 0; i < e.freeAfter.length; i++) {
                e.freeAfter[i].record(streams.get(i));
            }
            idle.computeIfAbsent(e.memory.bytes(), b -> new ArrayDeque<>()).push(e);
            idleBytes += e.memory.bytes();
        };
    }

    /** Device bytes held here and not lent: free for the next tensor, though the driver counts them as used. */
    long idleBytes() {
        return idleBytes;
    }

    /** Frees every idle buffer, once the work queued before its give-back is done. */
    void trim() {
        device.makeCurrent();
        for (ArrayDeque<Entry> free : idle.values()) {
            for (Entry e : free) {
                release(e, "freeing idle device memory");
                all.remove(e);
            }
        }
        idle.clear();
        idleBytes = 0;
    }

    private static void release(Entry e, String why) {
        if (e.freeAfter != null) {
            for (CudaEvent ev : e.freeAfter) {
                ev.synchronize(why);
                ev.close();
            }
        }
        e.memory.close();
    }

    /** Frees everything, lent or not: the backend is closing and has waited for the device. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        device.makeCurrent();
        for (Entry e : all) {
            try {
                release(e, "closing the device memory pool");
            } catch (RuntimeException ignored) {
                // freeing is best effort once the backend is going away
            }
        }
        all.clear();
        idle.clear();
        idleBytes = 0;
        closed = true;
    }
}
