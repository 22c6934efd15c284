package dev.wudi.cuda;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import com.sun.jna.NativeLibrary;
import java.io.PrintWriter;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Run in a child JVM by EmulatedGpuTestsTest: loads the emulated driver and cuBLAS (src/test/c), then runs
 * CublasGpuTest through the JUnit launcher and prints "started= succeeded= skipped= failed=". (The kernels' parity
 * suite lives in merge-runner with `wudi selftest`'s checks: KernelParityGpuTest, run on the emulator by EmulatedGpuTest.)
 */
public final class EmulatedGpuTestsMain {

    /** Held for the JVM's life: JNA closes a library whose NativeLibrary object is garbage-collected. */
    private static NativeLibrary driver;

    private EmulatedGpuTestsMain() {
    }

    public static void main(String[] args) {
        driver = NativeLibrary.getInstance(args[0]);
        System.setProperty(CublasLocator.PROPERTY, args[1]);
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClass(CublasGpuTest.class)).build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        TestExecutionListener skips = new TestExecutionListener() {
            @Override
            public void executionSkipped(TestIdentifier id, String reason) {
                System.out.println("SKIPPED " + id.getDisplayName() + ": " + reason);
            }

            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                if (result.getStatus() == TestExecutionResult.Status.ABORTED) {
                    System.out.println("ABORTED " + id.getDisplayName() + ": " + result.getThrowable().map(Throwable::getMessage).orElse(""));
                }
            }
        };
        launcher.execute(request, listener, skips);
        TestExecutionSummary s = listener.getSummary();
        s.printFailuresTo(new PrintWriter(System.out, true), 20);
        System.out.println("started=" + s.getTestsStartedCount() + " succeeded=" + s.getTestsSucceededCount()
                + " skipped=" + (s.getTestsSkippedCount() + s.getTestsAbortedCount()) + " failed=" + s.getTestsFailedCount());
    }
}
