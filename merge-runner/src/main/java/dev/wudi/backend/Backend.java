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

    @Override
    void close();
}
