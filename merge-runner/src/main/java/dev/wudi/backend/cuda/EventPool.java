package dev.wudi.backend.cuda;

import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaEvent;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Ordering events of one backend, kept from tensor to tensor so that a warm merge creates none. An event given back may
 * still be awaited by a stream (cuStreamWaitEvent captures the work recorded at the time of the wait), so re-recording
 * it for the next user is safe; no host code may synchronise on it after giving it back.
 */
final class EventPool implements AutoCloseable {

    private final CudaDevice device;
    private final ArrayDeque<CudaEvent> idle = new ArrayDeque<>();
    private final List<CudaEvent> all = new ArrayList<>();

    EventPool(CudaDevice device) {
        this.device = device;
    }

    CudaEvent take() {
        CudaEvent e = idle.poll();
        if (e == null) {
            e = device.newEvent(false);
            all.add(e);
        }
        return e;
    }

    void giveBack(CudaEvent e) {
        if (e != null) {
            idle.push(e);
        }
    }

    @Override
    public void close() {
        for (CudaEvent e : all) {
            e.close();
        }
        all.clear();
        idle.clear();
    }
}
