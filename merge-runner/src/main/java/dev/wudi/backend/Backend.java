package dev.wudi.backend;

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
     * Whether this backend's problems run the spectral solvers (exact, flow, spectral; specification 2.3) themselves
     * through {@link WudiProblem#solve}. False: a merge with such a solver runs WUDI on the CPU backend.
     */
    default boolean offersSpectralSolvers() {
        return false;
    }

    /**
     * Whether this backend's problems run the exact solver without a ridge as it must be run: C and D accumulated in
     * double, so that the eigenvalues it divides by are resolved ({@code solver.spectral.ExactMinimiser}). False:
     * a merge with that solver runs WUDI on the CPU backend, with {@link #exactOnTheCpuNote}.
     */
    default boolean solvesExactInDouble() {
        return false;
    }

    /** The warning of a merge whose exact solver moved from the backend named to the CPU. */
    static String exactOnTheCpuNote(String backendName) {
        return "--solver exact without --ridge divides by C's smallest eigenvalues, which only a C accumulated in double"
                + " resolves, and " + backendName + " forms C in float32: WUDI runs on the CPU in double for this merge"
                + " (slower); --solver spectral, flow, or exact with --ridge run on " + backendName;
    }

    /**
     * One line for the merge's warnings when the spectral solvers run here only in part (e.g. the GPU without
     * cuSOLVER: the eigendecompositions on the CPU), with the cause and the fix; null when they run in full.
     */
    default String spectralSolversNote() {
        return null;
    }

    @Override
    void close();
}
