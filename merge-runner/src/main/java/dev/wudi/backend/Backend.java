package dev.wudi.backend;

import dev.wudi.lora.LowRankWudi;
import dev.wudi.solver.spectral.SpectralFilter;
import java.util.List;
import java.util.Set;

/**
 * A place where the WUDI optimisation of one weight runs: the CPU (OpenBLAS) backend is the reference,
 * and every other backend is tested against it. The core depends on this interface only, so it compiles
 * and runs where no other backend exists.
 */
public interface Backend extends AutoCloseable {

    /** Short name for messages and reports: "cpu", "cuda:0". */
    String name();

    /** One line about the hardware and library in use, for reports and benchmarks. */
    String describe();

    /**
     * Starts the WUDI problem for one [rows, cols] weight (PyTorch nn.Linear layout [out, in]).
     * The caller then adds the n task vectors and solves.
     */
    WudiProblem newProblem(String tensorName, int rows, int cols);

    /**
     * What this backend offers beyond Adam on float arrays: the one place a backend declares it, read by the placement
     * ({@link Placement}) and the merge loop. By default nothing more.
     */
    default Set<Capability> capabilities() {
        return Set.of();
    }

    /**
     * {@link Capability#LOW_RANK_SOLVE}: exact, flow or spectral (the filter) on task vectors given as LoRA factors,
     * without forming an [cols, cols] matrix ({@link LowRankWudi}); the result equals the dense computation's.
     *
     * @throws IllegalArgumentException if the sum of the ranks is not in [1, cols]
     * @throws UnsupportedOperationException where this backend does not offer it (the placement then puts the solve
     *                                       on the CPU: {@link Placement#forLowRank})
     */
    default LowRankWudi.Solution solveLowRank(int rows, int cols, List<LowRankWudi.Factors> tasks,
                                              SpectralFilter filter) {
        throw new UnsupportedOperationException(name() + " does not offer " + Capability.LOW_RANK_SOLVE);
    }

    /**
     * One line for the merge's warnings when the spectral solvers run here only in part (e.g. the GPU without
     * cuSOLVER: the eigendecompositions on the CPU), with the cause and the fix; null when they run in full. A method
     * of its own, not a capability: finding out may load a library, which only a merge with such a solver should do.
     */
    default String spectralSolversNote() {
        return null;
    }

    /**
     * The devices a merge deals its WUDI tensors to, each with a rule of its own ({@code merge/DeviceDealer}): a
     * {@link DeviceSet}'s members, else this backend alone.
     */
    default List<Backend> devices() {
        return List.of(this);
    }

    @Override
    void close();
}
