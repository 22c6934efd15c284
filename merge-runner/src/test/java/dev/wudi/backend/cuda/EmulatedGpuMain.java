package dev.wudi.backend.cuda;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import com.sun.jna.NativeLibrary;
import dev.wudi.bench.KernelBench;
import dev.wudi.cuda.CublasLocator;
import dev.wudi.cuda.CusolverLocator;
import java.io.PrintWriter;
import java.util.List;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Run in a child JVM by EmulatedGpuTest: loads the emulated driver, cuBLAS and cuSOLVER (java-bindings/src/test/c),
 * runs CudaWudiProblemGpuTest, DriverCallCounts (the driver calls counted) and KernelParityGpuTest (the selftest's
 * kernel checks, here against the emulator's C transcriptions) through the JUnit launcher, then
 * KernelBench's plumbing at toy sizes.
 * Prints "started= succeeded= skipped= failed=" and "BENCH OK".
 */
public final class EmulatedGpuMain {

    /** Held for the JVM's life: JNA closes a library whose NativeLibrary object is garbage-collected. */
    private static NativeLibrary driver;

    private EmulatedGpuMain() {
    }

    public static void main(String[] args) {
        driver = NativeLibrary.getInstance(args[0]);   // its soname answers JCuda's need for libcuda.so.1
        System.setProperty(CublasLocator.PROPERTY, args[1]);
        System.setProperty(CusolverLocator.PROPERTY, args[2]);
        System.setProperty(DriverTrace.PROPERTY, args[0]);
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        TestExecutionListener aborted = new TestExecutionListener() {
            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                if (result.getStatus() == TestExecutionResult.Status.ABORTED) {
                    System.out.println("ABORTED " + id.getDisplayName() + ": "
                            + result.getThrowable().map(Throwable::getMessage).orElse(""));
                }
            }
        };
        launcher.execute(LauncherDiscoveryRequestBuilder.request().selectors(selectClass(CudaWudiProblemGpuTest.class),
                selectClass(DriverCallCounts.class), selectClass("dev.wudi.selftest.KernelParityGpuTest")).build(),
                summary, aborted);
        TestExecutionSummary s = summary.getSummary();
        s.printFailuresTo(new PrintWriter(System.out, true), 20);
        System.out.println("started=" + s.getTestsStartedCount() + " succeeded=" + s.getTestsSucceededCount()
                + " skipped=" + (s.getTestsSkippedCount() + s.getTestsAbortedCount() + s.getContainersAbortedCount())
                + " failed=" + (s.getTestsFailedCount() + s.getContainersFailedCount()));

        // The benchmark harness's plumbing at toy sizes (its figures mean nothing on an emulator).
        List<KernelBench.Row> rows = KernelBench.run(System.out, 0, List.of(new int[] {33, 20}, new int[] {8, 24}), 3,
                1 << 20, 32);
        boolean floors = rows.stream().allMatch(r -> r.ms() > 0 && r.floorMs() > 0 && Double.isFinite(r.floorMs()));
        System.out.println(rows.size() == 3 + 2 * 16 && floors ? "BENCH OK" : "BENCH rows: " + rows.size() + ", floors " + floors);
    }
}
