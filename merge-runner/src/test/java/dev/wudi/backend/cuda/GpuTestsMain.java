package dev.wudi.backend.cuda;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

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
 * The GPU test classes without Maven, for tests/gpu/device-check.sh on a machine with a GPU, a JRE and no JDK:
 * {@code java -cp wudi.jar:gpu-tests/* dev.wudi.backend.cuda.GpuTestsMain}. On a GPU no test may skip (a skip there
 * means the GPU was not reached), so the exit is 0 only when every test started, none failed and none skipped.
 */
public final class GpuTestsMain {

    /** Every test class that needs a GPU (each skips without one when run by Maven). */
    static final List<String> CLASSES = List.of("dev.wudi.selftest.KernelParityGpuTest", "dev.wudi.cuda.CublasGpuTest",
            "dev.wudi.backend.cuda.CudaWudiProblemGpuTest");

    private GpuTestsMain() {
    }

    public static void main(String[] args) {
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        TestExecutionListener each = new TestExecutionListener() {
            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                if (id.isTest()) {
                    System.out.println(result.getStatus() + " " + id.getDisplayName()
                            + result.getThrowable().map(t -> ": " + t.getMessage()).orElse(""));
                }
            }

            @Override
            public void executionSkipped(TestIdentifier id, String reason) {
                System.out.println("SKIPPED " + id.getDisplayName() + ": " + reason);
            }
        };
        LauncherDiscoveryRequestBuilder request = LauncherDiscoveryRequestBuilder.request();
        CLASSES.forEach(c -> request.selectors(selectClass(c)));
        launcher.execute(request.build(), summary, each);
        TestExecutionSummary s = summary.getSummary();
        s.printFailuresTo(new PrintWriter(System.out, true), 30);
        long skipped = s.getTestsSkippedCount() + s.getTestsAbortedCount() + s.getContainersSkippedCount()
                + s.getContainersAbortedCount();   // a test factory stopped by an assumption is a container
        System.out.println("GPU TESTS started=" + s.getTestsStartedCount() + " succeeded=" + s.getTestsSucceededCount()
                + " skipped=" + skipped + " failed=" + (s.getTestsFailedCount() + s.getContainersFailedCount()));
        System.exit(s.getTestsStartedCount() > 0 && s.getTestsFailedCount() == 0 && s.getContainersFailedCount() == 0
                && skipped == 0 ? 0 : 1);
    }
}
