package dev.wudi.spark;

import dev.wudi.cli.Durations;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.apache.spark.Success$;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * A Spark job's progress on the driver, one line per finished task (a merge can run for hours): how many tasks and
 * tensors are done, the share of the work (flops) that is, and the time left at the rate so far; a failed attempt is
 * said too, with Spark's reason, as Spark retries it. Spark calls this from its listener thread.
 */
final class TaskProgress extends SparkListener {

    private final List<TensorGroups.Group> groups;
    private final Consumer<String> say;
    /** The description of the job followed (Spark's events of other jobs are ignored), and what its tasks do. */
    private final String job;
    private final String doing;
    private final java.util.Set<Integer> stages = new java.util.HashSet<>();
    private final long start = System.nanoTime();
    private final double total;
    private final boolean[] done;
    private int tasksDone;
    private int tensorsDone;
    private double workDone;

    /**
     * @param job    the job's description (SparkContext.setJobDescription), to tell its events from another job's
     * @param doing  what a task does to its tensors, in words: "merged", "scanned"
     * @param groups the job's tasks, by partition index
     */
    TaskProgress(String job, String doing, List<TensorGroups.Group> groups, Consumer<String> say) {
        this.job = job;
        this.doing = doing;
        this.groups = List.copyOf(groups);
        this.say = say;
        this.total = groups.stream().mapToDouble(TensorGroups.Group::work).sum();
        this.done = new boolean[groups.size()];
    }

    @Override
    public synchronized void onJobStart(org.apache.spark.scheduler.SparkListenerJobStart start) {
        java.util.Properties p = start.properties();
        if (p != null && job.equals(p.getProperty("spark.job.description"))) {
            for (Object id : scala.jdk.javaapi.CollectionConverters.asJava(start.stageIds())) {
                stages.add((Integer) id);
            }
        }
    }

    @Override
    public synchronized void onTaskEnd(SparkListenerTaskEnd end) {
        int index = end.taskInfo().index();
        if (!stages.contains(end.stageId()) || index < 0 || index >= groups.size()) {
            return;
        }
        TensorGroups.Group g = groups.get(index);
        if (end.reason() != Success$.MODULE$) {
            say.accept(String.format(Locale.ROOT, "wudi-spark: task %d (attempt %d, %d tensor%s) did not finish: %s",
                    index + 1, end.taskInfo().attemptNumber() + 1, g.names().size(), g.names().size() == 1 ? "" : "s",
                    why(end.reason())));
            return;
        }
        if (done[index]) {
            return;                                     // a speculative copy of a task that had finished
        }
        done[index] = true;
        tasksDone++;
        tensorsDone += g.names().size();
        workDone += g.work();
        double elapsed = (System.nanoTime() - start) / 1e9;
        double share = total > 0 ? workDone / total : (double) tasksDone / groups.size();
        String left = tasksDone == groups.size() || share <= 0 ? ""
                : ", about " + Durations.text(elapsed * (1 - share) / share) + " left";
        say.accept(String.format(Locale.ROOT, "wudi-spark: %d/%d tasks done (%d tensor%s %s, %.0f%% of the work) in"
                + " %s%s", tasksDone, groups.size(), tensorsDone, tensorsDone == 1 ? "" : "s", doing, 100 * share,
                Durations.text(elapsed), left));
    }

    /** Spark's reason in one line: an executor's exception as its class and message. */
    private static String why(org.apache.spark.TaskEndReason reason) {
        if (reason instanceof org.apache.spark.ExceptionFailure e) {
            return firstLine(e.className().substring(e.className().lastIndexOf('.') + 1) + ": " + e.description());
        }
        if (reason instanceof org.apache.spark.TaskFailedReason f) {
            return firstLine(f.toErrorString());
        }
        return firstLine(reason.toString());
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl >= 0 ? s.substring(0, nl) : s;
    }
}
