package dev.wudi.cli;

import dev.wudi.backend.cpu.CpuBackend;
import dev.wudi.bench.AdamStepBench;
import dev.wudi.cpu.CpuAdamKernel;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "step", mixinStandardHelpOptions = true,
        description = "CPU: time per WUDI Adam step, one-GEMM form versus the literal formula, and the step's GEMM"
                + " throughput versus a bare OpenBLAS sgemm of the same shape (CLIP ViT-B/32 shapes by default).")
public final class BenchStepCommand implements Callable<Integer> {

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (default: all cores).")
    int threads;

    @Option(names = "--tasks", defaultValue = "8", description = "Task vectors (default: ${DEFAULT-VALUE}).")
    int tasks;

    @Option(names = "--steps", defaultValue = "30", description = "One-GEMM steps timed per shape (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--literal-steps", defaultValue = "3",
            description = "Literal-formula steps timed per shape after a warm-up (default: ${DEFAULT-VALUE}; 0 skips"
                    + " the literal formula, which takes minutes per step at LLM shapes).")
    int literalSteps;

    @Option(names = "--shapes", paramLabel = "OUTxIN,...", defaultValue = "2304x768,768x768,3072x768,768x3072",
            description = "Weight shapes (default: ${DEFAULT-VALUE}).")
    String shapes;

    @Option(names = "--adam-pass", paramLabel = "auto|native|java", defaultValue = "auto",
            description = "The fused Adam pass to time: native (cuda-kernels/cpu, where the jar has it), java, or"
                    + " auto (native if available). Default: ${DEFAULT-VALUE}.")
    String adamPass;

    @Override
    public Integer call() {
        List<int[]> parsed;
        try {
            parsed = AdamStepBench.parseShapes(shapes);
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException(e.getMessage());
        }
        if (steps < 2 || literalSteps < 0 || tasks < 1 || threads < 0) {
            throw new Errors.UsageException("need --steps >= 2, --literal-steps >= 0, --tasks >= 1, --threads >= 0");
        }
        CpuBackend.AdamPassChoice pass;
        try {
            pass = CpuBackend.AdamPassChoice.valueOf(adamPass.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException("--adam-pass must be auto, native or java, got '" + adamPass + "'");
        }
        try {
            AdamStepBench.run(System.out, threads, tasks, steps, literalSteps, parsed, pass);
        } catch (IllegalStateException e) {
            if (pass == CpuBackend.AdamPassChoice.NATIVE && !CpuAdamKernel.available()) {
                throw new Errors.UsageException(e.getMessage() + "; use --adam-pass java or auto");
            }
            throw e;
        }
        return 0;
    }
}
