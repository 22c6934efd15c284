package dev.wudi.cli;

import dev.wudi.merge.TensorSelection;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * `wudi merge`: the options of {@link dev.wudi.spec.OptionTable} ({@link MergeArgs}), run in this process
 * ({@link MergeRun}).
 */
@Command(name = "merge", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
        description = {
            "Merge fine-tuned checkpoints of one base model into one checkpoint.",
            "",
            "Inputs are .safetensors files or Hugging Face folders (model.safetensors, or shards with "
                    + "model.safetensors.index.json). The output mirrors the base: a file for a file; a folder "
                    + "(sharded by --shard-size, with the base's config and tokenizer files) for a folder. It is "
                    + "written under a temporary name and renamed only when complete.",
            "",
            "Which tensors the method computes: with no --include, WUDI takes the linear weights of the body "
                    + "(nn.Linear and Conv1D matrices, stacks of expert matrices), not "
                    + TensorSelection.DEFAULT_WUDI_EXCLUDE + "; task-arithmetic, average and ties take every "
                    + "floating tensor. --include REGEX replaces that scope (WUDI then also takes conv weights, as "
                    + "[out, in*k*k]); --exclude REGEX always wins. Everything not selected follows --rest; "
                    + "non-float tensors are copied from the base.",
            "",
            "Real checkpoints: each linear weight is optimised in the paper's [out, in] orientation: GPT-2-family "
                    + "Conv1D weights (stored [in, out]; known from config.json's model_type, else from the shapes "
                    + "of c_attn/c_fc) are optimised transposed, and stacked experts [E, out, in] as E layers "
                    + "(--layout overrides). Fine-tunes saved from another class of the architecture match with or "
                    + "without its prefix (transformer., model., bert., ...). Task heads the base lacks or has in "
                    + "another shape follow --heads; a vocabulary grown by added tokens follows --vocab; an lm_head the "
                    + "base ties to its embeddings is never added. Models whose config.json differs in the body's "
                    + "fields, or whose body tensors differ, are refused. `wudi plan` (or --dry-run) shows all of "
                    + "this per tensor before anything is merged.",
            ""},
        footer = {"", "Examples:",
            // one example per line, each under 76 characters, so no terminal breaks one inside a path
            "  wudi merge --base b.safetensors --model a.safetensors \\",
            "             --model c.safetensors --out merged.safetensors",
            "  wudi merge --base ./llama --model ./math --model ./code --out ./merged \\",
            "             --lr 1e-4 --report r.json",
            "  wudi merge --solver spectral --base ./llama --model ./math \\",
            "             --model ./code --out ./merged",
            "  wudi merge --lr auto --report r.json --report-html r.html \\",
            "             --base ./llama --model ./math --model ./code --out ./merged",
            "  wudi merge --method ties --density 0.2 --base ./llama \\",
            "             --model ./math --model ./code --out ./merged",
            "  wudi merge --config ties.yml --out ./merged     (a mergekit config)",
            "  wudi merge --dry-run --base ./gpt2 --model ./gpt2-sst2 \\",
            "             --model ./gpt2-emotion     (the plan, nothing merged)",
            "", "Environment:",
            "  WUDI_JAVA_OPTS           JVM options for the ./wudi launcher, e.g. -Xmx8g",
            "  WUDI_CPU_ADAM=java       the CPU's Adam pass in Java, not C (same result)",
            "  OPENBLAS_THREAD_TIMEOUT  unset, WUDI sets 4: workers sleep between calls",
            "  WUDI_CUBLAS              path of libcublas if it is not found by itself",
            "  WUDI_CUSOLVER            path of libcusolver if it is not found by itself",
            "  WUDI_DEBUG=1             a stack trace with every error"})
public final class MergeCommand implements Callable<Integer>, MergeArgs.Holder {

    private final MergeArgs args = new MergeArgs();

    @Override
    public MergeArgs mergeArgs() {
        return args;
    }

    @Override
    public Integer call() throws Exception {
        return MergeRun.inOneProcess(args);
    }
}
