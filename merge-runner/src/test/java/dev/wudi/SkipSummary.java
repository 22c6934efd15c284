package dev.wudi;

import java.util.Map;
import java.util.TreeMap;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;

/**
 * Says at the end of the test run, in one line per reason, how many tests were skipped and why (a disabled class
 * counts its tests; an assumption that failed counts one), so that a fresh clone without the optional third-party
 * fixtures shows what it did not run instead of silently running fewer tests.
 */
public final class SkipSummary implements TestExecutionListener {

    private final Map<String, Integer> skipped = new TreeMap<>();
    private TestPlan plan;

    @Override
    public void testPlanExecutionStarted(TestPlan testPlan) {
        plan = testPlan;
    }

    @Override
    public void executionSkipped(TestIdentifier id, String reason) {
        skipped.merge(reason, count(id), Integer::sum);
    }

    @Override
    public void executionFinished(TestIdentifier id, TestExecutionResult result) {
        if (result.getStatus() == TestExecutionResult.Status.ABORTED) {
            String why = result.getThrowable().map(Throwable::getMessage).orElse("aborted");
            skipped.merge(why.replaceFirst("^Assumption failed: ", ""), count(id), Integer::sum);
        }
    }

    private int count(TestIdentifier id) {
        if (id.isTest() || plan == null) {
            return 1;
        }
        // a test factory stopped by an assumption has no tests yet: it counts as one
        return (int) Math.max(1, plan.getDescendants(id).stream().filter(TestIdentifier::isTest).count());
    }

    @Override
    public void testPlanExecutionFinished(TestPlan testPlan) {
        skipped.forEach((why, n) -> System.out.println("[wudi] " + n + " test" + (n == 1 ? "" : "s") + " skipped: "
                + why));
    }
}
