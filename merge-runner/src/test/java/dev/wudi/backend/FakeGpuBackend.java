package dev.wudi.backend;

/**
 * Test stand-in for a device backend ("fake-gpu") that runs on the CPU backend underneath: by default
 * each problem is the CPU's, wrapped so that it offers Adam only; override {@link #newProblem} to fail or
 * to add behaviour.
 */
public class FakeGpuBackend implements Backend {

    protected final Backend cpu = Backends.cpu(1);

    @Override
    public String name() {
        return "fake-gpu";
    }

    @Override
    public String describe() {
        return "fake GPU over the CPU backend (test stand-in)";
    }

    @Override
    public WudiProblem newProblem(String tensorName, int rows, int cols) {
        return new DelegatingProblem(cpu.newProblem(tensorName, rows, cols));
    }

    @Override
    public void close() {
        cpu.close();
    }
}
