package dev.wudi.backend.cuda;

import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.PinnedBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Small page-locked host buffers of one backend (a tensor's K terms, a run's losses), kept from tensor to tensor by
 * exact size so that a warm merge calls cuMemHostAlloc for none. A buffer is given back only once the host has read what
 * the device copied into it, so no copy into it is in flight then.
 */
final class PinnedPool implements AutoCloseable {

    private final CudaDevice device;
    private final Map<Long, ArrayDeque<PinnedBuffer>> idle = new HashMap<>();
    private final List<PinnedBuffer> all = new ArrayList<>();

    PinnedPool(CudaDevice device) {
        this.device = device;
    }

    PinnedBuffer take(long bytes, String purpose) {
        ArrayDeque<PinnedBuffer> free = idle.get(bytes);
        PinnedBuffer b = free == null ? null : free.poll();
        if (b == null) {
            b = device.allocatePinned(bytes, purpose);
            all.add(b);
        }
        return b;
    }

    void giveBack(PinnedBuffer b) {
        if (b != null) {
            idle.computeIfAbsent(b.bytes(), k -> new ArrayDeque<>()).push(b);
        }
    }

    @Override
    public void close() {
        for (PinnedBuffer b : all) {
            b.close();
        }
        all.clear();
        idle.clear();
    }
}
