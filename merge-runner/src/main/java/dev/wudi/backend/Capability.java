package dev.wudi.backend;

/**
 * One thing a backend can do beyond the core of {@link WudiProblem} (task vectors in as float arrays, PyTorch-exact
 * Adam out). A backend lists what it offers in {@link Backend#capabilities()}, the one place it declares it; the
 * operations behind an ability it does not list refuse ({@link UnsupportedOperationException}) or say no, so callers
 * ask the list, never the type. The placement ({@link Placement}) and the merge loop read it.
 */
public enum Capability {

    /** Its problems run the spectral solvers (exact, flow, spectral; specification 2.3) in WudiProblem.solve. */
    SPECTRAL_SOLVERS,

    /**
     * Its problems run the exact solver without a ridge as it must be run: C and D accumulated in double, so that the
     * eigenvalues it divides by are resolved ({@code solver.spectral.ExactMinimiser}).
     */
    EXACT_IN_DOUBLE,

    /**
     * Its problems form the task vectors themselves from raw checkpoint bytes ({@link WudiProblem#setBase},
     * {@link WudiProblem#addFineTuned}): a 16-bit checkpoint then crosses to the device at 2 bytes per element.
     */
    TASK_VECTORS_FROM_CHECKPOINT,

    /**
     * Its problems, given W_0 through setBase, form W_0 + tau_m in the output dtype themselves
     * ({@link WudiProblem#mergeOnDevice}, {@link WudiProblem#mergedWeights}): a 16-bit output comes back at 2 bytes per
     * element.
     */
    MERGED_OUTPUT,

    /**
     * Its problems queue an Adam solve and return at once ({@link WudiProblem#solveAdamAsync}), so that the next
     * tensor is read and uploaded while this one solves.
     */
    ASYNCHRONOUS,

    /** It solves the LoRA low-rank problem ({@link Backend#solveLowRank}). */
    LOW_RANK_SOLVE,

    /**
     * It computes on the host's cores: the CPU, where work goes that a device does not offer or cannot hold, and which
     * beside GPUs takes the smallest tensor first, to measure itself cheaply ({@code merge/DeviceDealer}).
     */
    HOST
}
