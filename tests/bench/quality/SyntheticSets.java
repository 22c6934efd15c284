import dev.wudi.demo.Demo;
import dev.wudi.demo.SyntheticTasks;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The synthetic set of `wudi bench quality --scales` for scripts, through the engine's jar:
 *
 *   java -cp wudi-merge-runner-*-all.jar SyntheticSets.java write SCALE DIR   base + task*.safetensors into DIR
 *   java -cp wudi-merge-runner-*-all.jar SyntheticSets.java score SCALE FILE  each task's error of the merge FILE
 *
 * The set is `wudi demo`'s (Demo.defaultTasks) with every task vector times SCALE, as the bench builds it; the
 * score is the bench's (relative output error against each task's own fine-tune, one number per task).
 */
public final class SyntheticSets {
    public static void main(String[] args) throws Exception {
        if (args.length != 3 || !(args[0].equals("write") || args[0].equals("score"))) {
            System.err.println("usage: SyntheticSets.java write SCALE DIR | score SCALE FILE");
            System.exit(2);
        }
        double scale = Double.parseDouble(args[1]);
        SyntheticTasks set = Demo.defaultTasks();
        if (scale != 1) {
            set = set.scaled(scale);
        }
        if (args[0].equals("write")) {
            Files.createDirectories(Path.of(args[2]));
            set.write(Path.of(args[2]));
            return;
        }
        StringBuilder out = new StringBuilder();
        for (double e : Demo.score(set, Path.of(args[2]))) {
            out.append(String.format(Locale.ROOT, "%.6f ", e));
        }
        System.out.println(out.toString().trim());
    }
}
