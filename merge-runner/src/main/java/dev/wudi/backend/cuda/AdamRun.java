package dev.wudi.backend.cuda;

import dev.wudi.adam.AdamStepScalars;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;
import dev.wudi.cuda.Cublas;
import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaEvent;
import dev.wudi.cuda.CudaStream;
import dev.wudi.cuda.DeviceBuffer;
import dev.wudi.cuda.PinnedBuffer;
import dev.wudi.cuda.WudiKernels;
import dev.wudi.solver.AdamConfig;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.DoubleSupplier;

/**
 * One Adam run of specification 2.1 on the GPU, from the Gram form a {@link CudaWudiProblem} accumulated:
 * <pre>
 *   tau_m = sum;  for t = 1..T:  P = tau_m C   (ONE cuBLAS GEMM)
 *                                FusedAdam(P, D, m, v, tau_m)  (+ the loss at the step's start where it is reported)
 *   P = tau_m C; InterferenceLoss -> loss after the last step, in slot T
 * </pre>
 * The host never waits for the device inside the loop except once every {@link #PROGRESS_EVERY} steps: an event marks
 * the end of each window of that many steps, and a listener is told of window w once the device has finished it, after
 * window w+1 is queued, so the device always has work while the host waits. A step is then one product and one kernel
 * launch, built from nothing new. The loss is computed only at the steps it is reported for: the first (the loss
 * before) and the one after the last, and every step for a listener that {@link StepListener#wantsLoss() wants it}.
 * <p>
 * It takes tau_m, m, v, P and the loss slots from the backend's pools; {@link #enqueue} queues everything on the
 * compute stream, {@link #collect} waits and downloads; {@link #close} gives everything back.
 */
final class AdamRun implements AutoCloseable {

    /**
     * Steps between two reports to a listener, and so between two waits for the device: 25 (the system property
     * wudi.cuda.progressEvery overrides it; tests).
     */
    static final int PROGRESS_EVERY = Math.max(1, Integer.getInteger("wudi.cuda.progressEvery", 25));

    /**
     * What the task vectors left on the device: sum_i tau_i, D, C (row-major), and the event after which they (and the
     * host's copy of the K terms) are complete; K itself is read on the host once that event has passed.
     */
    record GramForm(DeviceBuffer sum, DeviceBuffer d, DeviceBuffer c, int rows, int cols, CudaEvent ready, DoubleSupplier k) {
    }

    private final CudaBackend backend;
    private final CudaDevice device;
    private final WudiKernels kernels;
    private final Cublas cublas;
    private final CudaStream compute;
    private final CudaStream copy;
    private final GramForm form;
    private final AdamConfig config;
    private final int steps;
    private final long n;
    private final String what;
    private final List<DeviceBuffer> buffers = new ArrayList<>();
    private final DeviceBuffer tauM;
    private final DeviceBuffer m;
    private final DeviceBuffer v;
    private final DeviceBuffer p;
    private final DeviceBuffer lossPartials;
    private final DeviceBuffer losses;       // slot t-1: loss at step t's start (where computed); slot T: after the last
    private final PinnedBuffer lossHost;
    private final CudaEvent done;
    private final CudaEvent[] windows;       // windows[w]: the device finished steps w*K+1 .. min((w+1)*K, T)
    private final DeviceMerge.Request merge;  // null: download tau_m; else form and download W_0 + tau_m
    private DeviceBuffer mergedOnDevice;
    private ByteBuffer merged;
    private boolean everyLoss;
    private int told;                        // windows whose steps the listener was told of
    private boolean enqueued;
    private boolean closed;

    /**
     * @param merge null: {@link #collect} returns tau_m; else it returns an empty tau_m and {@link #merged()}
     *              holds W_0 + tau_m encoded as asked ({@link DeviceMerge})
     */
    AdamRun(CudaBackend backend, TensorMemory memory, GramForm form, AdamConfig config, DeviceMerge.Request merge) {
        this.merge = merge;
        this.backend = backend;
        this.device = backend.device();
        this.kernels = backend.kernels();
        this.cublas = backend.cublas();
        this.compute = backend.computeStream();
        this.copy = backend.copyStream();
        this.form = form;
        this.config = config;
        this.steps = config.iterations();
        this.n = (long) form.rows() * form.cols();
        this.what = memory.label();
        this.windows = new CudaEvent[(steps + PROGRESS_EVERY - 1) / PROGRESS_EVERY];
        CudaEvent doneEvent = null;
        PinnedBuffer host = null;
        boolean ok = false;
        try {
            tauM = keep(memory.alloc(4 * n, "tau_m"));
            m = keep(memory.alloc(4 * n, "Adam m"));
            v = keep(memory.alloc(4 * n, "Adam v"));
            p = keep(memory.alloc(4 * n, "P = tau_m C"));
            lossPartials = keep(memory.alloc(WudiKernels.PARTIALS_BYTES, "loss partials"));
            losses = keep(memory.alloc(8L * (steps + 1), "losses"));
            host = backend.pinned().take(8L * (steps + 1), "losses");
            doneEvent = backend.events().take();
            for (int w = 0; w < windows.length; w++) {
                windows[w] = backend.events().take();
            }
            ok = true;
        } finally {
            this.lossHost = host;
            this.done = doneEvent;
            if (!ok) {
                close();
            }
        }
    }

    private DeviceBuffer keep(DeviceBuffer b) {
        buffers.add(b);
        return b;
    }

    /**
     * Queues every step and the final loss. With a listener, tells it of each window of steps once the device has
     * finished it, one window behind the queue (the listener may throw to stop: the steps queued so far still run, and
     * {@link #close} waits for them).
     */
    void enqueue(StepListener listener) {
        device.makeCurrent();
        int rows = form.rows();
        int cols = form.cols();
        compute.waitFor(form.ready());                        // the Gram form, made on the setup stream
        tauM.copyFromAsync(form.sum(), 4 * n, compute);      // tau_m starts at sum_i tau_i (specification 2.1)
        m.zeroAsync(4 * n, compute);
        v.zeroAsync(4 * n, compute);
        everyLoss = listener != null && listener.wantsLoss();
        WudiKernels.AdamSteps adam = kernels.adamSteps(p, form.d(), m, v, tauM, n, lossPartials);
        String ctx = "an Adam step of " + what;
        cublas.setTf32(backend.precision() == Precision.TF32);
        try {
            for (int t = 1; t <= steps; t++) {
                cublas.rowMajorTimesSquare(tauM, rows, cols, form.c(), 1f, 0f, p, ctx);   // P = tau_m C, the one GEMM
                boolean loss = everyLoss || t == 1;
                int parts = adam.launch(AdamStepScalars.forStep(config.lr(), config.beta1(), config.beta2(), config.eps(), t),
                        loss, compute);
                if (loss) {
                    kernels.reducePartials(lossPartials, parts, losses, t - 1, compute);
                }
                if (t % PROGRESS_EVERY == 0 || t == steps) {
                    int w = (t - 1) / PROGRESS_EVERY;
                    if (everyLoss) {                           // this window's losses, for the listener
                        long from = 8L * w * PROGRESS_EVERY;
                        losses.copyRangeToAsync(from, lossHost, from, 8L * t - from, compute);
                    }
                    windows[w].record(compute);
                    if (listener != null && w >= 1) {
                        tell(listener, w - 1);                 // window w is queued: the device stays busy meanwhile
                    }
                }
            }
            // L at the final iterate: one more product (specification 2.2), into the last slot.
            cublas.rowMajorTimesSquare(tauM, rows, cols, form.c(), 1f, 0f, p, "final loss of " + what);
        } finally {
            cublas.setTf32(false);
        }
        int parts = kernels.interferenceLossPartials(p, form.d(), tauM, n, lossPartials, compute);
        kernels.reducePartials(lossPartials, parts, losses, steps, compute);
        if (merge != null) {   // P and m are free now: scratch for W_0 + tau_m and its 16-bit encoding
            mergedOnDevice = DeviceMerge.enqueue(kernels, cublas, merge, tauM, p, m, n, compute, what);
        }
        losses.copyRangeToAsync(0, lossHost, 0, 8, compute);                       // the loss before
        losses.copyRangeToAsync(8L * steps, lossHost, 8L * steps, 8, compute);    // and after
        done.record(compute);
        enqueued = true;
    }

    /** Waits for window w of steps and tells the listener of each of its steps. */
    private void tell(StepListener listener, int w) {
        windows[w].synchronize("Adam steps of " + what);
        double k = everyLoss ? form.k().getAsDouble() : 0;   // K is on the host once the device is past the Gram form
        ByteBuffer view = lossHost.bytesView();
        int last = Math.min(steps, (w + 1) * PROGRESS_EVERY);
        told = w + 1;
        for (int t = w * PROGRESS_EVERY + 1; t <= last; t++) {
            listener.afterStep(t, everyLoss ? k + view.getDouble(8 * (t - 1)) : Double.NaN);
        }
    }

    /**
     * Tells the listener (may be null) of every window not told yet, each once the device has finished it, then
     * collects: for a solve queued without a listener, this is how its progress is seen while the host waits anyway.
     */
    WudiResult collect(StepListener listener) {
        device.makeCurrent();
        if (listener != null) {
            while (told < windows.length) {
                tell(listener, told);
            }
        }
        return collect();
    }

    /** Waits for the queued work and reads tau_m and the losses (L = partial sum + K). */
    private WudiResult collect() {
        done.synchronize("downloading the merged task vector of " + what);
        double k = form.k().getAsDouble();
        ByteBuffer lossView = lossHost.bytesView();
        double before = k + lossView.getDouble(0);
        double after = k + lossView.getDouble(8 * steps);
        copy.waitFor(done);                    // the copy stream: not behind the next tensor's queued products
        PinnedStage stage = backend.stage();
        if (merge != null) {
            ByteBuffer bytes = ByteBuffer.allocate(Math.toIntExact(merge.outBytes(n))).order(ByteOrder.LITTLE_ENDIAN);
            stage.download(mergedOnDevice, bytes, copy);
            merged = bytes.flip();
            return new WudiResult(new float[0], before, after, steps);
        }
        float[] result = new float[(int) n];
        stage.download(tauM, result, copy);
        return new WudiResult(result, before, after, steps);
    }

    /** W_0 + tau_m in the requested dtype, after {@link #collect} of a run made with a merge request; else null. */
    ByteBuffer merged() {
        return merged;
    }

    /** Waits for the queued work (the host reads into lossHost no more), then gives everything back to the pools. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        device.makeCurrent();
        try {
            if (enqueued) {
                done.synchronize("freeing the Adam state of " + what);    // not the next tensor's queued work
            } else {
                compute.synchronize("freeing the Adam state of " + what);
            }
        } finally {
            for (int i = buffers.size() - 1; i >= 0; i--) {
                try {
                    buffers.get(i).close();
                } catch (RuntimeException ignored) {
                    // giving back is best effort once something already failed
                }
            }
            buffers.clear();
            backend.pinned().giveBack(lossHost);
            backend.events().giveBack(done);
            for (CudaEvent w : windows) {
                backend.events().giveBack(w);
            }
        }
    }
}
