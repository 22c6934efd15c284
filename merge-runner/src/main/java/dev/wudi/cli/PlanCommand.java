package dev.wudi.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * `wudi plan`: what `wudi merge` with the same options would do to every tensor, and what it would cost, without
 * merging (the same as `wudi merge --dry-run`). The inputs are checked as a merge checks them: a model that is
 * not a fine-tune of the base is refused here too.
 */
@Command(name = "plan", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
        description = {
            "Show what `wudi merge` would do to every tensor, and its cost, without merging.",
            "",
            "For every tensor: its role (linear, embedding, head, norm,"
                    + " bias, buffer, other), its layout and why (e.g. a GPT-2 c_attn optimised transposed), the action"
                    + " (the method and solver, or the rest policy), which models take part, and the estimated flops,"
                    + " peak memory and time on the chosen device (the Adam step's rate is measured first). Takes every"
                    + " option of `wudi merge`; --out is optional. --json prints one JSON document.",
            ""},
        footer = {"", "Examples:",
            "  wudi plan --base ./gpt2 --model ./gpt2-sst2 --model ./gpt2-emotion",
            "  wudi plan --json --solver spectral --base ./llama --model ./math \\",
            "            --model ./code > plan.json"})
public final class PlanCommand implements Callable<Integer>, MergeArgs.Holder {

    private final MergeArgs args = new MergeArgs();

    @Override
    public MergeArgs mergeArgs() {
        return args;
    }

    @Override
    public Integer call() throws Exception {
        args.give(dev.wudi.spec.OptionTable.DRY_RUN, "true");
        return MergeRun.inOneProcess(args);
    }
}
