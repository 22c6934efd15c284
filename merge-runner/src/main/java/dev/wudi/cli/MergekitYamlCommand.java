package dev.wudi.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * `wudi mergekit-yaml CONFIG.yml OUT`: mergekit's command line, for users who switch with their configs. The same as
 * `wudi merge --config CONFIG.yml --out OUT`; every option of `wudi merge` may follow, overriding the config.
 */
@Command(name = "mergekit-yaml", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
        description = {
            "Run a mergekit YAML config: the same as `wudi merge --config CONFIG.yml --out OUT`.",
            "",
            "Accepted: merge_method (wudi, linear, task_arithmetic, ties, dare_linear, dare_ties, breadcrumbs,"
                    + " breadcrumbs_ties, della, della_linear, slerp, nuslerp, model_stock), base_model, models with per-model parameters,"
                    + " parameters (numbers, gradients over the layers, {filter, value} lists), dtype, out_dtype,"
                    + " tokenizer_source (base or a model's path), random_seed, and slices that take every layer of"
                    + " every model once. OUT/mergekit_config.yml holds the config as run, every default written"
                    + " out; it runs again to the same merge."
                    + " Model references are local paths, PATH+LORA for a LoRA adapter on the base. Unknown keys and"
                    + " parameters, and mergekit features not supported here, stop with exit 2 naming the line.",
            ""},
        footer = {"", "Examples:",
            "  wudi mergekit-yaml ties.yml ./merged",
            "  wudi mergekit-yaml wudi.yml ./merged --device cuda --solver spectral"})
public final class MergekitYamlCommand implements Callable<Integer>, MergeArgs.Holder {

    private final MergeArgs args = new MergeArgs();

    @Parameters(index = "0", paramLabel = "CONFIG.yml", description = "The mergekit config.")
    Path configFile;

    String outPath;

    @Parameters(index = "1", paramLabel = "OUT", description = "The output folder (or .safetensors file for a file base).")
    void outPath(String text) {
        outPath = text;
    }

    @Override
    public MergeArgs mergeArgs() {
        return args;
    }

    @Override
    public Integer call() throws Exception {
        if (args.isGiven(dev.wudi.spec.OptionTable.OUT)) {
            throw new Errors.UsageException("the output is the second argument; leave out --out");
        }
        if (args.isGiven(dev.wudi.spec.OptionTable.CONFIG)) {
            throw new Errors.UsageException("the config is the first argument; leave out --config");
        }
        args.give(dev.wudi.spec.OptionTable.CONFIG, configFile.toString());
        args.give(dev.wudi.spec.OptionTable.OUT, outPath);
        return MergeRun.inOneProcess(args);
    }
}
