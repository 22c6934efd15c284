package dev.wudi.merge;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Capability;
import dev.wudi.backend.Placement;
import dev.wudi.cuda.CudaException;
import dev.wudi.method.TensorJob;
import dev.wudi.method.TensorOutcome;
import dev.wudi.method.TensorRule;
import dev.wudi.method.TensorSink;
import dev.wudi.method.WudiRule;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Deals the WUDI tensors of one merge to several devices ({@code --device cuda:all}, the specification's per-tensor independence):
 * one worker thread per device, each with its own rule (its own problem, staging buffers and stream), takes the
 * largest tensor not yet started among the next {@code window} in output order that it would finish before any
 * other device could ({@link #choose}: devices are measured as they go), and computes it into memory; the
 * merge's thread {@link #take}s the results in output order and writes them, so the output has the order and, device
 * for device, the bytes of a one-device merge. At most {@code window} results wait to be written.
 *
 * <p>A device that fails (a CUDA error) is retired with one warning and its tensor goes back to the others; when
 * none is left, a CPU worker takes over, on the CPU the placement gives ({@link Placement#afterDevicesFailed}). Any
 * other failure (an input error) is the tensor's: it reaches the merge's thread when that tensor's turn comes, and the
 * workers stop.
 */
final class DeviceDealer implements AutoCloseable {

    /** One tensor to deal: its place in the output, the job, its estimated work (flops, merge/CostModel). */
    record Deal(int index, TensorJob job, double work) {
    }

    /**
     * What the dealer knows of a device: its measured seconds per unit of work (NaN before its first tensor), when
     * its current tensor should be done (seconds on the dealer's clock; 0 when idle or not known), whether it is
     * alive, and whether it is the CPU among GPUs (which starts with the smallest tensor, to measure itself cheaply).
     */
    static final class Worker {
        double rate = Double.NaN;
        double busyUntil;
        boolean alive = true;
        final boolean cpuAmongGpus;
        private double seconds;
        private double work;

        Worker(boolean cpuAmongGpus) {
            this.cpuAmongGpus = cpuAmongGpus;
        }

        void measured(double dealWork, double dealSeconds) {
            work += dealWork;
            seconds += dealSeconds;
            rate = work > 0 ? seconds / work : Double.NaN;
        }
    }

    /**
     * A tensor computed into memory: what the rule reported, its output, where (the device's position in the list
     * given, the CPU that took over from failed devices after them) and how long.
     */
    record Computed(TensorOutcome outcome, Buffered output, int device, double seconds) {
    }

    private final Function<Backend, TensorRule> rules;
    private final Consumer<String> warnings;
    private final Placement placement;
    private final int window;
    private final List<Deal> pending = new ArrayList<>();   // in output order, not started
    private final Map<Integer, Object> done = new HashMap<>();   // index -> Computed or Throwable
    private final List<Thread> workers = new ArrayList<>();
    private final List<TensorRule> opened = new ArrayList<>();
    private final List<Worker> state = new ArrayList<>();
    private final long epoch = System.nanoTime();
    private boolean stopped;

    /**
     * @param devices the devices, each given one worker
     * @param rules   makes a device's rule (closed by this dealer if AutoCloseable)
     * @param placement where the tensors go when every device has failed
     */
    DeviceDealer(List<Backend> devices, List<Deal> deals, Function<Backend, TensorRule> rules,
                 Placement placement, Consumer<String> warnings) {
        this.rules = rules;
        this.placement = placement;
        this.warnings = warnings;
        this.window = Math.max(2, 2 * devices.size());
        pending.addAll(deals);
        boolean gpus = devices.stream().anyMatch(d -> !d.capabilities().contains(Capability.HOST));
        for (Backend d : devices) {
            start(d, gpus && d.capabilities().contains(Capability.HOST));
        }
    }

    private synchronized void start(Backend device, boolean cpuAmongGpus) {
        TensorRule rule = rules.apply(device);
        int position = workers.size();
        Worker me = new Worker(cpuAmongGpus);
        state.add(me);
        opened.add(rule);
        Thread t = new Thread(() -> work(device, position, rule, me), "wudi-" + device.name());
        t.setDaemon(true);
        workers.add(t);
        t.start();
    }

    /**
     * The position in {@code candidates} (tensors not started, in output order) that {@code me} should take now, or
     * -1 to wait. Largest first, but only a tensor {@code me} would finish no later than any other live device could:
     * another finishes it at max(now, its busyUntil) + its rate x work, {@code me} at now + my rate x work. So a
     * slow device (the CPU beside GPUs) takes a tensor only where that shortens the merge, and a device not yet
     * measured takes the largest (the CPU among GPUs: the smallest, to measure itself).
     */
    static int choose(List<Deal> candidates, Worker me, List<Worker> others, double now) {
        if (candidates.isEmpty()) {
            return -1;
        }
        Integer[] order = new Integer[candidates.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> Double.compare(candidates.get(b).work(), candidates.get(a).work()));
        if (Double.isNaN(me.rate)) {
            return me.cpuAmongGpus ? order[order.length - 1] : order[0];
        }
        for (int i : order) {
            double w = candidates.get(i).work();
            double mine = Math.max(now, me.busyUntil) + me.rate * w;   // busyUntil: a tensor reserved ahead
            boolean best = true;
            for (Worker v : others) {
                if (v != me && v.alive && !Double.isNaN(v.rate) && Math.max(now, v.busyUntil) + v.rate * w < mine) {
                    best = false;
                    break;
                }
            }
            if (best) {
                return i;
            }
        }
        return -1;
    }

    private double now() {
        return (System.nanoTime() - epoch) / 1e9;
    }

    /**
     * The next deal for a worker ({@link #choose} among the first {@code window} not started); null when stopping, or
     * without {@code wait} when none is to be had now (a worker reserving its next tensor ahead, so that its upload
     * overlaps the current solve).
     */
    private synchronized Deal next(Worker me, boolean wait) throws InterruptedException {
        while (!stopped) {
            if (pending.isEmpty()) {
                return null;
            }
            Deal d = null;
            if (done.size() < window) {
                int i = choose(pending.subList(0, Math.min(window, pending.size())), me, state, now());
                d = i < 0 ? null : pending.remove(i);
            } else if (done.keySet().stream().allMatch(k -> k > pending.get(0).index())) {
                // the results waiting all come after the first tensor not started: the writer needs that one first
                d = pending.remove(0);
            }
            if (d != null) {
                me.busyUntil = Double.isNaN(me.rate) ? 0 : Math.max(now(), me.busyUntil) + me.rate * d.work();
                return d;
            }
            if (!wait) {
                return null;
            }
            wait(200);                                  // the writer is behind, or a faster device is about to be free
        }
        return null;
    }

    private void work(Backend device, int position, TensorRule rule, Worker me) {
        try {
            Deal d = next(me, true);
            while (d != null) {
                // the next tensor reserved now, so that the rule uploads it while this one solves (upload-ahead)
                Deal ahead = rule instanceof WudiRule ? next(me, false) : null;
                if (rule instanceof WudiRule w) {
                    w.upcoming(ahead == null ? null : ahead.job());
                }
                Buffered out = new Buffered();
                long t0 = System.nanoTime();
                try {
                    TensorOutcome o = rule.apply(d.job(), out);
                    double seconds = (System.nanoTime() - t0) / 1e9;
                    synchronized (this) {
                        me.measured(d.work(), seconds);
                        me.busyUntil = ahead == null || Double.isNaN(me.rate) ? 0 : now() + me.rate * ahead.work();
                    }
                    finish(d, new Computed(o, out, position, seconds));
                } catch (CudaException e) {
                    retire(me, device, d, ahead, e);
                    return;
                } catch (Throwable e) {
                    finish(d, e);
                }
                d = ahead != null ? ahead : next(me, true);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private synchronized void finish(Deal d, Object result) {
        done.put(d.index(), result);
        notifyAll();
    }

    /** A device that failed: its tensors go back, it takes no more; the CPU steps in when it was the last. */
    private void retire(Worker me, Backend device, Deal d, Deal ahead, CudaException why) {
        boolean last;
        synchronized (this) {
            // marked dead and counted in one step: of two devices failing at once, exactly one is the last
            me.alive = false;
            pending.add(0, d);
            if (ahead != null) {
                pending.add(0, ahead);
            }
            pending.sort(java.util.Comparator.comparingInt(Deal::index));
            last = state.stream().noneMatch(w -> w.alive) && !stopped;
            notifyAll();
        }
        warnings.accept("device " + device.name() + " failed on tensor " + d.job().name() + " (" + why.getMessage()
                + "); it takes no more tensors" + (last ? " and the CPU takes over" : " and the other devices share its"
                + " work"));
        if (last) {
            synchronized (this) {
                start(placement.afterDevicesFailed().backend(), false);   // the placement owns and closes it
            }
        }
    }

    /** The result for the tensor at this index, once computed; its failure rethrown. */
    Computed take(int index) throws IOException, InterruptedException {
        Object r;
        synchronized (this) {
            while (!done.containsKey(index)) {
                wait();
            }
            r = done.remove(index);
            notifyAll();                                // a slot in the window is free
        }
        if (r instanceof Computed c) {
            return c;
        }
        Throwable e = (Throwable) r;
        if (e instanceof IOException io) {
            throw io;
        }
        if (e instanceof RuntimeException re) {
            throw re;
        }
        if (e instanceof Error er) {
            throw er;
        }
        throw new IOException(e);
    }

    @Override
    public void close() {
        synchronized (this) {
            stopped = true;
            notifyAll();
        }
        for (Thread t : workers) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        for (TensorRule r : opened) {
            if (r instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    // freeing device buffers after a failure: the first failure is the one reported
                }
            }
        }
    }

    /** A tensor's output held in memory, in the order written, replayed into the checkpoint later. */
    static final class Buffered implements TensorSink {
        private final List<Object> parts = new ArrayList<>();

        @Override
        public void writeFloats(float[] src, int off, int count) {
            parts.add(java.util.Arrays.copyOfRange(src, off, off + count));
        }

        @Override
        public void writeRaw(ByteBuffer bytes) {
            ByteBuffer copy = ByteBuffer.allocate(bytes.remaining());
            copy.put(bytes.duplicate()).flip();
            bytes.position(bytes.limit());
            parts.add(copy);
        }

        void replay(TensorSink into) throws IOException {
            for (Object p : parts) {
                if (p instanceof float[] f) {
                    into.writeFloats(f, 0, f.length);
                } else {
                    into.writeRaw(((ByteBuffer) p).duplicate());
                }
            }
            parts.clear();
        }
    }
}
