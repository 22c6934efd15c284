package dev.wudi.backend.cuda;

import dev.wudi.backend.WudiProblem.StepListener;
import dev.wudi.backend.WudiResult;
import dev.wudi.adam.AdamStepScalars;
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

/**
 * One Adam run of SPEC 2.1 on the GPU, from the Gram form a {@link CudaWudiProblem} accumulated:
 * <pre>
 *   tau_m = sum;  for t = 1..T:  P = tau_m C   (ONE cuBLAS GEMM)
 *                                FusedAdam(P, D, m, v, tau_m)  -> loss at the step's start, in slot t-1
 *   P = tau_m C; InterferenceLoss -> loss after the last step, in slot T
 * </pre>
 * It owns tau_m, m, v, P and the loss slots; {@link #enqueue} queues everything on the compute stream,
 * {@link #collect} waits and downloads; {@link #close} frees.
 */
final class AdamRun implements AutoCloseable {

    /** What the task vectors left on the device: sum_i tau_i, D, C (row-major) and K. */
    record GramForm(DeviceBuffer sum, DeviceBuffer d, DeviceBuffer c, int rows, int cols, double k) {
    }

    private final CudaBackend backend;
    private final CudaDevice device;
    private final WudiKernels kernels;
    private final Cublas cublas;
    private final CudaStream compute;
    private final CudaStream copy;
    private final GramForm form;
    private final PinnedStage stage;
    private final CudaEvent done;
    private final AdamConfig config;
    private final int steps;
    private final long n;
    private final String what;
    private final List<AutoCloseable> resources = new ArrayList<>();
    private final DeviceBuffer tauM;
    private final DeviceBuffer m;
    private final DeviceBuffer v;
    private final DeviceBuffer p;
    private final DeviceBuffer lossPartials;
    private final DeviceBuffer losses;
    private final PinnedBuffer lossHost;
    private final CudaEvent[] stepDone = new CudaEvent[2];
    private final DeviceMerge.Request merge;  // null: download tau_m; else form and download W_0 + tau_m
    private DeviceBuffer mergedOnDevice;
    private ByteBuffer merged;
    private boolean enqueued;

    /**
     * @param merge null: {@link #collect} returns tau_m; else it returns an empty tau_m and {@link #merged()}
     *              holds W_0 + tau_m encoded as asked ({@link DeviceMerge})
     */
    AdamRun(CudaBackend backend, TensorMemory memory, GramForm form, PinnedStage stage, CudaEvent done, AdamConfig config,
            DeviceMerge.Request merge) {
        this.merge = merge;
        this.backend = backend;
        this.device = backend.device();
        this.kernels = backend.kernels();
        this.cublas = backend.cublas();
        this.compute = backend.computeStream();
        this.copy = backend.copyStream();
        this.form = form;
        this.stage = stage;
        this.done = done;
        this.config = config;
        this.steps = config.iterations();
        this.n = (long) form.rows() * form.cols();
        this.what = memory.label();
        boolean ok = false;
        try {
            tauM = keep(memory.alloc(4 * n, "tau_m"));
            m = keep(memory.alloc(4 * n, "Adam m"));
            v = keep(memory.alloc(4 * n, "Adam v"));
            p = keep(memory.alloc(4 * n, "P = tau_m C"));
            lossPartials = keep(memory.alloc(WudiKernels.PARTIALS_BYTES, "loss partials"));
            losses = keep(memory.alloc(8L * (steps + 1), "losses"));
            lossHost = keep(device.allocatePinned(8L * (steps + 1), "losses of " + what));
            stepDone[0] = keep(device.newEvent(false));
            stepDone[1] = keep(device.newEvent(false));
            ok = true;
        } finally {
            if (!ok) {
                close();
            }
        }
    }

    private <T extends AutoCloseable> T keep(T r) {
        resources.add(r);
        return r;
    }

    /** Queues every step and the final loss; with a listener, reports step t-1 while step t runs. */
    void enqueue(StepListener listener) {
        int rows = form.rows();
        int cols = form.cols();
        double k = form.k();
        tauM.copyFromAsync(form.sum(), 4 * n, compute);      // tau_m starts at sum_i tau_i (SPEC 2.1)
        m.zeroAsync(4 * n, compute);
        v.zeroAsync(4 * n, compute);
        ByteBuffer lossView = lossHost.bytesView();
        cublas.setTf32(backend.precision() == Precision.TF32);
        try {
            for (int t = 1; t <= steps; t++) {
                String ctx = "Adam step " + t + " of " + what;
                cublas.rowMajorTimesSquare(tauM, rows, cols, form.c(), 1f, 0f, p, ctx);   // P = tau_m C, the one GEMM
                AdamStepScalars s = AdamStepScalars.forStep(config.lr(), config.beta1(), config.beta2(), config.eps(), t);
                int parts = kernels.fusedAdam(p, form.d(), m, v, tauM, n, s, lossPartials, compute);
                kernels.reducePartials(lossPartials, parts, losses, t - 1, compute);
                if (listener != null) {
                    losses.copyRangeToAsync(8L * (t - 1), lossHost, 8L * (t - 1), 8, compute);
                    stepDone[t & 1].record(compute);
                    if (t >= 2) {
                        stepDone[(t - 1) & 1].synchronize(ctx);
                        listener.afterStep(t - 1, k + lossView.getDouble(8 * (t - 2)));
                    }
                }
            }
            // L at the final iterate: one more product (SPEC 2.2), into the last slot.
            cublas.rowMajorTimesSquare(tauM, rows, cols, form.c(), 1f, 0f, p, "final loss of " + what);
        } finally {
            cublas.setTf32(false);
        }
        int parts = kernels.interferenceLossPartials(p, form.d(), tauM, n, lossPartials, compute);
        kernels.reducePartials(lossPartials, parts, losses, steps, compute);
        if (merge != null) {   // P and m are free now: scratch for W_0 + tau_m and its 16-bit encoding
            mergedOnDevice = DeviceMerge.enqueue(kernels, cublas, merge, tauM, p, m, n, compute, what);
        }
        losses.copyToAsync(lossHost, 8L * (steps + 1), compute);
        done.record(compute);
        enqueued = true;
    }

    /** Waits for the queued work and reads tau_m and the losses (L = partial sum + K). */
    WudiResult collect(StepListener listener) {
        device.makeCurrent();
        done.synchronize("downloading the merged task vector of " + what);
        double k = form.k();
        ByteBuffer lossView = lossHost.bytesView();
        if (listener != null && steps >= 1) {
            listener.afterStep(steps, k + lossView.getDouble(8 * (steps - 1)));
        }
        copy.waitFor(done);                    // the copy stream: not behind the next tensor's queued products
        if (merge != null) {
            ByteBuffer bytes = ByteBuffer.allocate(Math.toIntExact(merge.outBytes(n))).order(ByteOrder.LITTLE_ENDIAN);
            stage.download(mergedOnDevice, bytes, copy);
            merged = bytes.flip();
            return new WudiResult(new float[0], k + lossView.getDouble(0), k + lossView.getDouble(8 * steps), steps);
        }
        float[] result = new float[(int) n];
        stage.download(tauM, result, copy);
        return new WudiResult(result, k + lossView.getDouble(0), k + lossView.getDouble(8 * steps), steps);
    }

    /** W_0 + tau_m in the requested dtype, after {@link #collect} of a run made with a merge request; else null. */
    ByteBuffer merged() {
        return merged;
    }

    @Override
    public void close() {
        device.makeCurrent();
        if (enqueued) {
            done.synchronize("freeing the Adam state of " + what);    // not the next tensor's queued work
        } else {
            compute.synchronize("freeing the Adam state of " + what);
        }
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception ignored) {
                // freeing is best effort once something already failed
            }
        }
        resources.clear();
    }
}
