package dev.wudi.api;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.format.DType;
import dev.wudi.merge.Cancellation;
import dev.wudi.merge.MergeInterruptedException;
import dev.wudi.merge.MergeListener;
import dev.wudi.spec.MergeOption;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.OptionTable;
import dev.wudi.spec.MergeSpecBuilder;
import dev.wudi.merge.Merger;
import dev.wudi.spec.RestPolicy;
import dev.wudi.merge.TensorRecord;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Merges whole checkpoints, as `wudi merge` does: the same defaults, the same output bytes, the same checks. Level 1
 * of the library (level 2 is {@link LayerMerge}, one layer at a time; level 3 is {@link Devices}).
 *
 * <pre>{@code
 * MergeResult r = CheckpointMerge.builder(Path.of("base.safetensors"), Path.of("merged.safetensors"))
 *         .model(Path.of("math.safetensors")).model(Path.of("code.safetensors"))
 *         .build()
 *         .run();
 * }</pre>
 *
 * The base, the models and the output are what `wudi merge` takes: .safetensors files, Hugging Face folders (sharded
 * or not), and PEFT LoRA adapter folders as models. The output is written under a temporary name and renamed into
 * place when complete, so a failed or cancelled merge never leaves a partial output under the final name (a
 * cancelled one keeps its completed tensors for {@link Builder#resume}).
 *
 * <p>Threading: {@link #run()} blocks the calling thread and runs the merge on it (and on the backend's own threads);
 * {@link #cancel()} may be called from any other thread. A CheckpointMerge runs once. It holds no native or device
 * memory before {@code run()} and none after it returns.
 */
public final class CheckpointMerge {

    private final MergeSpec options;
    private final String device;
    private final MergeEvents events;
    private final boolean resume;
    private final boolean allowNonFinite;
    private final Cancellation cancellation = new Cancellation();
    private boolean ran;

    private CheckpointMerge(Builder b) {
        this.device = b.device;
        this.events = b.events;
        this.resume = b.resume;
        this.allowNonFinite = b.allowNonFinite;
        MergeSpecBuilder o = b.config != null ? b.config : MergeSpec.builder(b.base, b.models, b.out);
        dev.wudi.method.ParameterSource params = b.config != null ? b.config.build().parameters() : null;
        if (b.method != null) {
            o.method(b.method);
        }
        o.threads(b.threads).force(b.force);
        if (b.dtype != null) {
            o.outDType(b.dtype);
        }
        if (b.solver != null && b.solver.spec() instanceof dev.wudi.solver.SolverSpec.Adam adam) {
            o.adam(adam.config());              // as `wudi merge --lr --iters`: Adam's settings, no --solver
        } else if (b.solver != null) {
            o.solver(b.solver.spec());
        }
        if (b.scale != null) {
            o.scale(b.scale);
        }
        if (b.density != null) {
            o.density(b.density);
        }
        if (b.include != null) {
            o.include(b.include);
        }
        if (b.exclude != null) {
            o.exclude(b.exclude);
        }
        if (b.rest != null) {
            o.rest(b.rest);
        }
        if (b.shardBytes > 0) {
            o.shardBytes(b.shardBytes);
        }
        b.options.forEach(o::set);
        try {
            o.build();                                      // checks every text before the config's values read any
            if (b.config != null) {
                // settings given over a config replace its per-model and per-tensor values too, as on the command line
                java.util.Map<MergeOption, String> given = new java.util.LinkedHashMap<>(b.options);
                if (b.scale != null) {
                    given.put(dev.wudi.spec.OptionTable.SCALE, String.valueOf(b.scale));
                }
                if (b.density != null) {
                    given.put(dev.wudi.spec.OptionTable.DENSITY, String.valueOf(b.density));
                }
                for (java.util.Map.Entry<MergeOption, String> e : given.entrySet()) {
                    params = dev.wudi.config.GivenOptions.replacing(params, e.getKey(), e.getValue());
                }
                o.parameters(params);
            }
            this.options = o.build();
        } catch (dev.wudi.spec.OptionException e) {
            throw new IllegalArgumentException(e.getMessage(), e);   // the command line's words: "--lr applies to ..."
        }
    }

    /**
     * A merge of models into out over base, with `wudi merge`'s defaults: WUDI with the paper's Adam on the linear
     * weights, every other tensor from the base, the base's dtype and layout, --device auto.
     *
     * @param base the pretrained checkpoint (file or folder)
     * @param out  where the merged checkpoint goes (a file for a file base, a folder for a folder base)
     * @return a builder; add at least one model, then {@link Builder#build()}
     */
    public static Builder builder(Path base, Path out) {
        return new Builder(base, out);
    }

    /**
     * A merge a mergekit YAML config describes (its base, models, method and parameters), as `wudi mergekit-yaml`
     * runs it; the builder's settings apply over the config's.
     *
     * @param config the mergekit config
     * @param out    where the merged checkpoint goes
     * @return a builder whose base and models come from the config (adding models is refused)
     * @throws IOException              the config cannot be read
     * @throws IllegalArgumentException the config is not one this engine runs (the message names the line)
     */
    public static Builder fromConfig(Path config, Path out) throws IOException {
        dev.wudi.config.ConfigOptions.Result r = dev.wudi.config.ConfigOptions.read(config, out);
        Builder b = new Builder(config, out);
        b.config = r.builder();
        b.method = null;                                   // the config's
        return b;
    }

    /**
     * Runs the merge, blocking until it ends.
     *
     * @return what was written, with a record per tensor
     * @throws IOException                an input cannot be read, is not a checkpoint, does not fit the base, or the
     *                                    output cannot be written; the message names the file and the tensor
     * @throws IllegalArgumentException   options that do not fit the inputs (e.g. an --include matching nothing)
     * @throws CancellationException      {@link #cancel()} was called; completed tensors are kept for a resume
     * @throws IllegalStateException      run() was called before
     * @throws dev.wudi.backend.BackendUnavailableException the device asked for cannot be used (the reason)
     */
    public MergeResult run() throws IOException {
        synchronized (this) {
            if (ran) {
                throw new IllegalStateException("a CheckpointMerge runs once; build another");
            }
            ran = true;
        }
        try (Backend backend = Backends.select(device, options.threads(), false, events::info)) {
            Merger merger = new Merger(options, backend, new Listener(events),
                    new Merger.Safety(resume, allowNonFinite, cancellation));
            return new MergeResult(merger.run());
        } catch (MergeInterruptedException e) {
            CancellationException c = new CancellationException(e.getMessage());
            c.initCause(e);
            throw c;
        } catch (dev.wudi.checkpoint.CheckpointException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /**
     * Asks a running merge to stop at its next safe point (between Adam steps or output chunks); run() then throws
     * {@link CancellationException}. Safe from any thread; a no-op after run() has returned.
     */
    public void cancel() {
        cancellation.request("cancelled by the caller");
    }

    /**
     * The method with its solver and settings, as the report will name it.
     *
     * @return e.g. "wudi (adam lr 1.0E-5, 300 steps)"
     */
    public String describe() {
        try (Backend cpu = Backends.cpu(1)) {           // the description names no device; closed at once
            return new Merger(options, cpu, null).methodDescription();
        }
    }

    /** MergeEvents seen through the engine's listener. */
    private static final class Listener implements MergeListener {
        private final MergeEvents events;

        Listener(MergeEvents events) {
            this.events = events;
        }

        @Override
        public void started(int tensors, int optimised, long totalWork) {
            events.started(tensors, optimised, totalWork / 1e6);
        }

        @Override
        public void tensorStarted(int index, String name, String method) {
            events.tensorStarted(index, name, method);
        }

        @Override
        public void step(int t, int of) {
            events.step(t, of);
        }

        @Override
        public void tensorDone(TensorRecord record, long work) {
            events.tensorDone(MergeResult.of(record));
        }

        @Override
        public void warning(String message) {
            events.warning(message);
        }

        @Override
        public void info(String message) {
            events.info(message);
        }
    }

    /** The merge's settings; each setter returns this. Not thread-safe; build() validates and copies. */
    public static final class Builder {
        private final Path base;
        private final Path out;
        private final List<Path> models = new ArrayList<>();
        /** A config's description of the merge, where {@link #fromConfig} made this builder. */
        private MergeSpecBuilder config;
        /** Options set by their command-line name ({@link #option}), in order. */
        private final java.util.Map<MergeOption, String> options = new java.util.LinkedHashMap<>();
        private MergeMethod method = MergeMethods.WUDI;
        private Solver solver;
        private Double scale;
        private Double density;
        private Pattern include;
        private Pattern exclude;
        private RestPolicy rest;
        private DType dtype;
        private long shardBytes;
        private String device = "auto";
        private int threads;
        private boolean force;
        private boolean resume;
        private boolean allowNonFinite;
        private MergeEvents events = new MergeEvents() { };

        private Builder(Path base, Path out) {
            this.base = Objects.requireNonNull(base, "base");
            this.out = Objects.requireNonNull(out, "out");
        }

        /**
         * Adds a fine-tuned model: a .safetensors file, a folder, or a PEFT LoRA adapter folder.
         *
         * @param model the model's path
         * @return this builder
         */
        public Builder model(Path model) {
            if (config != null) {
                throw new IllegalStateException("the config gives the models; edit it to add one");
            }
            models.add(Objects.requireNonNull(model, "model"));
            return this;
        }

        /**
         * Any option of `wudi merge` that decides the output, by its command-line name and its value as the command line
         * takes it (docs/options.md lists them): {@code option("--heads", "from:2")}, {@code option("--lr", "auto")},
         * {@code option("--solver", "spectral")}; a flag takes "true". Checked as the command line checks it, when
         * {@link #build()} builds the merge. Where the merge runs and what else is written are this builder's own
         * setters ({@link #device}, {@link #threads}, {@link #resume}, {@link #events}) and
         * {@link MergeResult#writeJson}/{@link MergeResult#writeHtml}.
         *
         * @param name  e.g. "--vocab"
         * @param value e.g. "base"
         * @return this builder
         * @throws IllegalArgumentException for an unknown name, or one that is not a setting of the merge itself
         */
        public Builder option(String name, String value) {
            MergeOption o = OptionTable.byName(Objects.requireNonNull(name, "name"));
            if (o == null) {
                throw new IllegalArgumentException("unknown option " + name + " (docs/options.md lists them)");
            }
            if (o.effect() == MergeOption.Effect.RUN || o.group() == MergeOption.Group.INPUTS) {
                throw new IllegalArgumentException(name + " is not a setting of the merge; use this builder's own"
                        + " setters (model, device, force, resume, events) or MergeResult.writeJson/writeHtml");
            }
            options.put(o, Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * Task heads the base lacks or has in another shape: "save", "drop", "from:K" or "auto" (--heads).
         *
         * @param policy the policy
         * @return this builder
         */
        public Builder heads(String policy) {
            return option("--heads", policy);
        }

        /**
         * Vocabularies grown by added tokens: "extend" or "base" (--vocab).
         *
         * @param policy the policy
         * @return this builder
         */
        public Builder vocab(String policy) {
            return option("--vocab", policy);
        }

        /**
         * Write a PEFT LoRA adapter instead of a full model (--as-adapter; every model must be an adapter).
         *
         * @param rank the rank of deltas truncated by SVD, or 0 for the sum of the adapters' ranks
         * @return this builder
         */
        public Builder asAdapter(int rank) {
            option("--as-adapter", "true");
            return rank > 0 ? option("--adapter-rank", String.valueOf(rank)) : this;
        }

        /**
         * Adds fine-tuned models, in order.
         *
         * @param paths the models' paths
         * @return this builder
         */
        public Builder models(List<Path> paths) {
            paths.forEach(this::model);
            return this;
        }

        /**
         * The merge method by its name, as `wudi methods` lists them ("wudi", "task-arithmetic", "ties", "dare-ties",
         * ...). Default "wudi".
         *
         * @param name a method name or alias (case-insensitive; "_" reads as "-")
         * @return this builder
         * @throws IllegalArgumentException for an unknown name (the message lists the known ones)
         */
        public Builder method(String name) {
            this.method = MergeMethods.byName(name);
            return this;
        }

        /**
         * WUDI's solver (default {@link Solver#adam()}, the paper's). Only read by method "wudi".
         *
         * @param s the solver
         * @return this builder
         */
        public Builder solver(Solver s) {
            this.solver = Objects.requireNonNull(s, "solver");
            return this;
        }

        /**
         * The scale of the merged task vector (wudi: W_0 + s tau_m, default 1; task arithmetic's lambda).
         *
         * @param s the scale; 1 is the paper's (no rescaling)
         * @return this builder
         * @throws IllegalArgumentException where s is not finite in float32
         */
        public Builder scale(double s) {
            this.scale = checked("scale", dev.wudi.spec.ParameterRange.FINITE, s);
            return this;
        }

        /**
         * The fraction of each task vector kept by TIES and the sparse methods, in (0, 1].
         *
         * @param d the density
         * @return this builder
         * @throws IllegalArgumentException where d is not in (0, 1]
         */
        public Builder density(double d) {
            this.density = checked("density", dev.wudi.spec.ParameterRange.DENSITY, d);
            return this;
        }

        /** v, where range accepts it; the same rule and words as the command line's and a config's. */
        private static double checked(String what, dev.wudi.spec.ParameterRange range, double v) {
            String problem = range.problem(v);
            if (problem != null) {
                throw new IllegalArgumentException(what + " " + problem + ", got " + v);
            }
            return v;
        }

        /**
         * Also give these tensors (a regex found in the name) to the method (--include).
         *
         * @param regex a Java regular expression, searched for in each tensor's name
         * @return this builder
         * @throws IllegalArgumentException for a malformed regex
         */
        public Builder include(String regex) {
            this.include = compile("include", regex);
            return this;
        }

        /**
         * Never give these tensors to the method (--exclude; wins over include).
         *
         * @param regex a Java regular expression, searched for in each tensor's name
         * @return this builder
         */
        public Builder exclude(String regex) {
            this.exclude = compile("exclude", regex);
            return this;
        }

        /**
         * What happens to tensors the method does not take: "base" (default), "average" or "task-arithmetic".
         *
         * @param policy "base", "average" or "task-arithmetic"
         * @return this builder
         * @throws IllegalArgumentException for another policy
         */
        public Builder rest(String policy) {
            this.rest = RestPolicy.parse(policy);
            return this;
        }

        /**
         * The output dtype of floating tensors: "f32", "f16" or "bf16" (default: the base's, tensor by tensor).
         *
         * @param d "f32", "f16" or "bf16"
         * @return this builder
         * @throws IllegalArgumentException for another dtype
         */
        public Builder dtype(String d) {
            this.dtype = DType.parseUser(d);
            return this;
        }

        /**
         * The largest output shard of a folder output, in bytes (default 5 GB).
         *
         * @param bytes the limit, &gt; 0
         * @return this builder
         * @throws IllegalArgumentException for a limit &lt;= 0
         */
        public Builder shardBytes(long bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("shard size must be positive, got " + bytes);
            }
            this.shardBytes = bytes;
            return this;
        }

        /**
         * Where WUDI runs: "auto" (default: the GPU if usable, else the CPU), "cpu", "cuda" or "cuda:N".
         *
         * @param d the device name
         * @return this builder
         */
        public Builder device(String d) {
            this.device = Objects.requireNonNull(d, "device");
            return this;
        }

        /**
         * CPU threads for the matrix products (default 0: every core).
         *
         * @param n the thread count, 0 for every core
         * @return this builder
         * @throws IllegalArgumentException for a negative count
         */
        public Builder threads(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("threads must be >= 0, got " + n);
            }
            this.threads = n;
            return this;
        }

        /**
         * Replace an existing output (default false: an existing output is refused).
         *
         * @param f whether to replace
         * @return this builder
         */
        public Builder force(boolean f) {
            this.force = f;
            return this;
        }

        /**
         * Continue the partial output a cancelled or killed merge with the same settings left (default false).
         *
         * @param r whether to resume
         * @return this builder
         */
        public Builder resume(boolean r) {
            this.resume = r;
            return this;
        }

        /**
         * Merge inputs holding NaN or Inf, each such tensor warned about (default false: refused).
         *
         * @param a whether to allow NaN and Inf
         * @return this builder
         */
        public Builder allowNonFinite(boolean a) {
            this.allowNonFinite = a;
            return this;
        }

        /**
         * Who is told of progress (default: nobody).
         *
         * @param e the listener, called on the merging thread
         * @return this builder
         */
        public Builder events(MergeEvents e) {
            this.events = Objects.requireNonNull(e, "events");
            return this;
        }

        /**
         * The merge, ready to run.
         *
         * @return the merge; call {@link CheckpointMerge#run()} to run it
         * @throws IllegalArgumentException without a model
         */
        public CheckpointMerge build() {
            if (models.isEmpty() && config == null) {
                throw new IllegalArgumentException("at least one model is needed");
            }
            return new CheckpointMerge(this);
        }

        private static Pattern compile(String what, String regex) {
            try {
                return Pattern.compile(Objects.requireNonNull(regex, what));
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException(what + " '" + regex + "' is not a regular expression: "
                        + e.getDescription());
            }
        }
    }
}
