package dev.wudi.backend;

import dev.wudi.solver.SolverSpec;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Where WUDI's work runs, decided in one place. A merge names its devices ({@code --device}: one backend, or a
 * {@link DeviceSet}); what they do not offer ({@link Backend#capabilities()}) or cannot hold goes to the CPU, the
 * reference backend, which offers everything. Each decision is a {@link Placed}: one backend, and the one line that
 * tells the user why it is not the device asked for (null when nothing needs telling).
 * <ul>
 *   <li>{@link #forSolver}: once per merge, from the solver. The exact solver without a ridge needs C and D in double
 *   ({@link Capability#EXACT_IN_DOUBLE}); the spectral solvers need a backend that runs them
 *   ({@link Capability#SPECTRAL_SOLVERS}), and one that runs them only in part says so (the GPU without cuSOLVER).</li>
 *   <li>{@link #forLowRank}: per tensor whose task vectors are LoRA factors ({@link Capability#LOW_RANK_SOLVE}).</li>
 *   <li>{@link #afterDeviceMemory}: per tensor that did not fit its device.</li>
 *   <li>{@link #afterDevicesFailed}: when every device of a set has failed.</li>
 * </ul>
 * Which devices exist is {@link Backends#select}'s business (with {@code auto}'s own fallback line); everything after
 * that is here. The CPU backend is opened on first need and shared by every decision of this placement (its passes
 * take turns between threads, {@code backend/cpu/RowParallel}); {@link #close()} closes it, and a later decision opens
 * another. The devices belong to the caller.
 */
public final class Placement implements AutoCloseable {

    /** One backend to run on, and the line to tell the user (null: nothing to tell). */
    public record Placed(Backend backend, String note) {
    }

    private final Backend devices;
    private final Supplier<Backend> openCpu;
    private Backend cpu;

    /**
     * @param devices the backend the user asked for (one device or a device set); not closed here
     * @param threads the CPU's threads where work moves there (0: every core)
     */
    public Placement(Backend devices, int threads) {
        this(devices, () -> Backends.cpu(threads));
    }

    /** @param openCpu opens the CPU backend work moves to (tests: a CPU backend of their own) */
    public Placement(Backend devices, Supplier<Backend> openCpu) {
        this.devices = devices;
        this.openCpu = openCpu;
    }

    /**
     * Where WUDI with this solver runs for a whole merge on the devices, and the line that says so once: the CPU for
     * the exact solver without a ridge where a device forms C in float32, the CPU for a spectral solver a device does
     * not run, else the devices themselves (with their note where they run a spectral solver in part).
     */
    public Placed forSolver(SolverSpec solver) {
        if (solver instanceof SolverSpec.Adam) {
            return new Placed(devices, null);            // every backend runs Adam
        }
        Set<Capability> can = devices.capabilities();
        if (solver instanceof SolverSpec.Exact e && e.ridge() == 0 && !can.contains(Capability.EXACT_IN_DOUBLE)) {
            return new Placed(cpu(), exactOnTheCpuNote(devices.name()));
        }
        if (!can.contains(Capability.SPECTRAL_SOLVERS)) {
            // the spectral solvers need an eigendecomposition this backend does not offer: LAPACK on the CPU does
            return new Placed(cpu(), "--solver " + solver.name() + " has no implementation on " + devices.name()
                    + " (no eigendecomposition there); WUDI runs on the CPU for this merge");
        }
        return new Placed(devices, devices.spectralSolversNote());
    }

    /**
     * Where the LoRA low-rank solve of one tensor runs when its WUDI runs on {@code on}: there where it offers the
     * solve, else on the CPU, with a line that is the same for every such tensor (tell it once).
     */
    public Placed forLowRank(Backend on) {
        if (on.capabilities().contains(Capability.LOW_RANK_SOLVE)) {
            return new Placed(on, null);
        }
        return new Placed(cpu(), on.name() + " does not solve WUDI on LoRA factors; those solves (an [R, R]"
                + " eigendecomposition, R the sum of the adapters' ranks) run on the CPU");
    }

    /** Where a tensor goes that did not fit its device's memory: the CPU, with the line naming it. */
    public Placed afterDeviceMemory(DeviceMemoryException why) {
        return new Placed(cpu(), why.getMessage() + " -> merging it on the CPU");
    }

    /** Where the tensors go when every device of the set has failed (the dealer's warning names the failure). */
    public Placed afterDevicesFailed() {
        return new Placed(cpu(), null);
    }

    /** The warning of a merge whose exact solver moved from the backend named to the CPU. */
    static String exactOnTheCpuNote(String backendName) {
        return "--solver exact without --ridge divides by C's smallest eigenvalues, which only a C accumulated in"
                + " double resolves, and " + backendName + " forms C in float32: WUDI runs on the CPU in double for"
                + " this merge (slower); --solver spectral, flow, or exact with --ridge run on " + backendName;
    }

    private synchronized Backend cpu() {
        if (cpu == null) {
            cpu = openCpu.get();
        }
        return cpu;
    }

    /** Closes the CPU backend this placement opened, if any; the devices stay open. */
    @Override
    public synchronized void close() {
        if (cpu != null) {
            Backend b = cpu;
            cpu = null;
            b.close();
        }
    }
}
