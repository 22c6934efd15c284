package example;

import dev.wudi.api.CheckpointMerge;
import dev.wudi.api.MergeEvents;
import dev.wudi.api.MergeResult;
import dev.wudi.api.TensorResult;
import java.nio.file.Path;

/** Merges the checkpoints on its command line with WUDI's defaults: LibraryMerge BASE OUT MODEL... */
public final class LibraryMerge {

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: LibraryMerge BASE OUT MODEL...");
            System.exit(2);
        }
        CheckpointMerge.Builder merge = CheckpointMerge.builder(Path.of(args[0]), Path.of(args[1]));
        for (int i = 2; i < args.length; i++) {
            merge.model(Path.of(args[i]));
        }
        MergeResult r = merge.events(new MergeEvents() {
            @Override
            public void tensorDone(TensorResult t) {
                if (t.hasLoss()) {
                    System.out.printf("%s: loss %.4g -> %.4g%n", t.name(), t.lossBefore(), t.lossAfter());
                }
            }
        }).build().run();
        System.out.printf("merged %d tensors with %s on %s -> %s%n", r.tensors().size(), r.method(), r.device(), r.out());
    }
}
