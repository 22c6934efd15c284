package dev.wudi.spec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wudi.model.LayoutOverride;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.SolverSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The command a model card shows for a merge run through the Java API: every option written out, shell-quoted. */
class ReproduceCommandTest {

    @Test
    void everyOptionThatChangesTheOutputIsWrittenOut() {
        MergeSpec o = MergeSpec.builder(Path.of("my base"), List.of(Path.of("a"), Path.of("it's b")), Path.of("out"))
                .adam(AdamConfig.paper().withLr(1e-4f).withIterations(50)).exclude(Pattern.compile("layers\\.0\\."))
                .layouts(List.of(LayoutOverride.parse("c_attn=in-out"))).heads(HeadPolicy.parse("from:2"))
                .vocab(VocabPolicy.BASE).build();
        assertEquals("wudi merge --base 'my base' --model a --model 'it'\\''s b' --out out --method wudi --scale 1.0"
                + " --solver adam --lr 1.0E-4 --iters 50 --beta1 0.9 --beta2 0.999 --eps 1.0E-8 --exclude"
                + " 'layers\\.0\\.' --rest base --layout c_attn=in-out --shard-size 5GB --heads from:2 --vocab base"
                + " --card auto", ReproduceCommand.of(o));
        String exact = ReproduceCommand.of(o.withSolver(new SolverSpec.Exact(1e-3)));
        assertTrue(exact.contains("--solver exact --ridge 0.001") && !exact.contains("--lr"), exact);
    }
}
