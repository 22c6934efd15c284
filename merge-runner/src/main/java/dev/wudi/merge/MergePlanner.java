package dev.wudi.merge;

import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.RestPolicy;
import dev.wudi.spec.HeadPolicy;
import dev.wudi.spec.OptionException;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.CheckpointException;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.format.TensorInfo;
import dev.wudi.method.CoverageRule;
import dev.wudi.method.MergeMethods;
import dev.wudi.model.Architectures;
import dev.wudi.model.LayoutClaims;
import dev.wudi.model.LayoutOverride;
import dev.wudi.model.ModelConfig;
import dev.wudi.model.NameAlignment;
import dev.wudi.model.TensorClassifier;
import dev.wudi.model.TensorRole;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Builds the {@link MergePlan} from the inputs and options, and refuses, with one line, models that are not
 * fine-tunes of the base. Tolerated, with a documented default each (README "Real models"):
 * <ul>
 *   <li>names saved under another class of the same architecture (with or without the base_model_prefix);</li>
 *   <li>task heads the base lacks, or has in another shape (--heads);</li>
 *   <li>a vocabulary grown by added tokens (--vocab);</li>
 *   <li>buffers one side has and the other not (causal masks, position ids), and an output embedding the base
 *       ties to its input embedding (never added to the output).</li>
 * </ul>
 * Refused: config.json fields of the body that differ (layer counts, widths, model_type), body tensors one
 * side lacks, body tensors of another shape, floating against non-floating dtypes.
 */
final class MergePlanner {

    private static final int LIST_AT_MOST = 6;

    private static final String UNTOUCHED_LABEL = "rest: base (not adapted)";

    /** Why a LoRA adapter takes no part in a weight it does not adapt. */
    static final String UNTOUCHED = "a LoRA adapter that does not adapt this module: its task vector is zero here";

    /** Tensors whose first dimension is the vocabulary (embeddings, output heads, their biases). */
    static final Pattern VOCABULARY = Pattern.compile("(embed_tokens|(^|\\.)wte\\.|word_embeddings|tokens_embed"
            + "|(^|\\.)lm_head\\.|embed_out|vocab_projector|predictions\\.decoder|predictions\\.bias|(^|\\.)shared\\.)");

    private MergePlanner() {
    }

    static MergePlan plan(MergeSpec o, Checkpoint base, List<Checkpoint> models, boolean folderOutput)
            throws IOException {
        return plan(o, base, models, folderOutput, List.of());
    }

    /** @param inputNotes what the user should know about the inputs themselves (LoRA adapters), first in the notes */
    static MergePlan plan(MergeSpec o, Checkpoint base, List<Checkpoint> models, boolean folderOutput,
                          List<String> inputNotes) throws IOException {
        ModelConfig baseConfig = ModelConfig.of(base.path());
        List<ModelConfig> configs = new ArrayList<>();
        for (Checkpoint m : models) {
            configs.add(ModelConfig.of(m.path()));
        }
        checkArchitecture(base, baseConfig, models, configs);
        List<TensorInfo> baseInfos = new ArrayList<>();
        for (String n : base.names()) {
            baseInfos.add(base.tensor(n).info());
        }
        TensorClassifier classifier = new TensorClassifier(baseConfig, o.layouts(), baseInfos);
        checkOverrides(o.layouts(), baseInfos);
        LayoutClaims.check(baseConfig, classifier, baseInfos);
        HeadPolicy heads = o.heads().resolve(folderOutput);
        if (heads.kind() == HeadPolicy.Kind.FROM && heads.model() > models.size()) {
            throw new OptionException("--heads from:" + heads.model() + " names model " + heads.model()
                    + ", but only " + models.size() + " --model " + (models.size() == 1 ? "was" : "were") + " given");
        }
        if (heads.kind() == HeadPolicy.Kind.SAVE && !folderOutput) {
            throw new OptionException("--heads save writes OUT/heads/, which needs a folder output (the base is"
                    + " a single file); use --heads drop or from:K");
        }
        List<String> notes = new ArrayList<>(inputNotes);
        List<NameAlignment> alignments = new ArrayList<>();
        for (int i = 0; i < models.size(); i++) {
            NameAlignment a = NameAlignment.of(base.names(), models.get(i).names(),
                    NameAlignment.prefixesFor(baseConfig, configs.get(i)));
            alignments.add(a);
            if (!a.prefixChanges().isEmpty()) {
                notes.add(who(models, i) + ": " + a.describeChanges() + " (saved from another class of the"
                        + " architecture)");
            }
        }
        int fromModel = heads.kind() == HeadPolicy.Kind.FROM ? heads.model() - 1 : -1;
        List<MergePlan.Entry> entries = new ArrayList<>();
        List<MergePlan.Extra> extras = new ArrayList<>();
        List<List<String>> missing = new ArrayList<>();
        models.forEach(m -> missing.add(new ArrayList<>()));
        TensorSelection selection = TensorSelection.of(o);
        Map<Integer, Integer> untouchedByMethod = new TreeMap<>();
        long grownTo = -1;
        VocabularyRows vocabRows = VocabularyRows.of(o, base, models, baseConfig);
        Map<String, long[]> grownRows = new LinkedHashMap<>();
        for (String name : base.names()) {
            TensorRef bref = base.tensor(name);
            TensorInfo bi = bref.info();
            TensorClassifier.Classification c = classifier.classify(bi);
            List<Integer> idx = new ArrayList<>();
            List<TensorRef> src = new ArrayList<>();
            Map<Integer, String> left = new TreeMap<>();
            long maxRows = bi.rank() > 0 ? bi.shape()[0] : -1;
            TensorRef fromRef = null;
            for (int i = 0; i < models.size(); i++) {
                String mn = alignments.get(i).modelName(name);
                if (mn == null) {
                    if (!bi.dtype().mergeable() || c.role() == TensorRole.BUFFER) {
                        continue;                       // copied from the base; a model need not have it
                    }
                    if (c.role() == TensorRole.HEAD) {
                        left.put(i, "has no " + name);
                    } else {
                        missing.get(i).add(name);
                    }
                    continue;
                }
                TensorRef mref = models.get(i).tensor(mn);
                TensorInfo mi = mref.info();
                if (!bi.dtype().mergeable()) {
                    continue;                           // copied from the base byte for byte
                }
                if (!mi.dtype().mergeable()) {
                    throw new CheckpointException("tensor " + name + " has dtype " + bi.dtype() + " in " + bref.path()
                            + " but " + mi.dtype() + " in " + mref.path());
                }
                if (i == fromModel && c.role() == TensorRole.HEAD) {
                    fromRef = mref;
                }
                if (bi.sameShape(mi)) {
                    idx.add(i);
                    src.add(mref);
                } else if (grows(bi, mi, c.role())) {
                    idx.add(i);
                    src.add(mref);
                    maxRows = Math.max(maxRows, mi.shape()[0]);
                } else if (c.role() == TensorRole.HEAD) {
                    left.put(i, "shape " + mi.shapeString() + " differs from the base's " + bi.shapeString());
                } else {
                    throw new CheckpointException("tensor " + name + " has shape " + bi.shapeString() + " in "
                            + bref.path() + " but " + mi.shapeString() + " in " + mref.path()
                            + (shrinks(bi, mi, c.role()) ? " (a smaller vocabulary than the base's is not supported)"
                            : "; these are not fine-tunes of one base"));
                }
            }
            long baseRows = -1;
            long[] outShape = bi.shape().clone();
            long rows = bi.rank() > 0 ? vocabRows.rows(bi, c.role(), maxRows, idx, src) : -1;
            if (maxRows > (bi.rank() > 0 ? bi.shape()[0] : -1)) {
                if (rows > bi.shape()[0]) {
                    baseRows = bi.shape()[0];
                    outShape[0] = rows;
                    if (bi.shape()[0] == baseConfig.vocabSize() || baseConfig.vocabSize() < 0) {
                        grownTo = Math.max(grownTo, rows);
                    }
                } else {
                    for (int k = 0; k < src.size(); k++) {
                        src.set(k, src.get(k).slice(0, bi.shape()));   // the base's rows only
                    }
                }
                grownRows.put(name, new long[] {bi.shape()[0], rows, maxRows});
            }
            DType outDType = bi.dtype().mergeable() && o.outDType() != null ? o.outDType() : bi.dtype();
            MergePlan.Action action;
            String label;
            if (!bi.dtype().mergeable()) {
                action = MergePlan.Action.COPY;
                label = "copy (" + bi.dtype() + ")";
            } else if (fromRef != null) {
                action = MergePlan.Action.FROM_MODEL;
                label = "from model " + (fromModel + 1);
                idx = List.of(fromModel);
                src = List.of(fromRef);
                outShape = fromRef.info().shape().clone();
                baseRows = -1;
                grownRows.remove(name);
            } else if (selection.selects(bi, c.role(), c.layout())) {
                action = MergePlan.Action.METHOD;
                label = methodLabel(o);
                if (o.method() == MergeMethods.WUDI) {
                    if (leaveOutUntouched(bref, idx, src, left)) {
                        action = MergePlan.Action.REST;    // no model changes it: W_0, without a solve
                        label = UNTOUCHED_LABEL;
                    }
                } else {
                    for (int k = 0; k < src.size(); k++) {
                        if (src.get(k) == bref) {
                            untouchedByMethod.merge(idx.get(k), 1, Integer::sum);
                        }
                    }
                }
            } else {
                action = MergePlan.Action.REST;
                label = "rest: " + o.rest().cliName();
            }
            if ((action == MergePlan.Action.METHOD || action == MergePlan.Action.REST) && idx.isEmpty()
                    && !(action == MergePlan.Action.REST && o.rest() == RestPolicy.BASE) && !label.equals(UNTOUCHED_LABEL)) {
                action = MergePlan.Action.REST;
                label = "rest: base (no model has it in the base's shape)";
            }
            entries.add(new MergePlan.Entry(name, bref, c.role(), c.layout(), c.source(), outShape, outDType, action,
                    label, idx, src, left, baseRows));
            if (heads.kind() == HeadPolicy.Kind.SAVE && c.role() == TensorRole.HEAD && bi.dtype().mergeable()) {
                // each model's task head (classifier, score, ...); an output embedding the base has in the same
                // shape (an untied lm_head: vocabulary x hidden, GBs per model) is part of the model, not saved
                boolean vocabulary = VOCABULARY.matcher(name).find();
                for (int i = 0; i < models.size(); i++) {
                    String mn = alignments.get(i).modelName(name);
                    if (mn != null && (!vocabulary || left.containsKey(i))) {
                        extras.add(new MergePlan.Extra(i, mn, models.get(i).tensor(mn), TensorRole.HEAD,
                                "saved to heads/" + headsFile(i), true));
                    }
                }
            }
        }
        refuseMissing(base, models, missing);
        List<String> bodyExtra = new ArrayList<>();
        int bodyExtraModel = -1;
        for (int i = 0; i < models.size(); i++) {
            for (String mn : alignments.get(i).unmatched()) {
                TensorRef r = models.get(i).tensor(mn);
                TensorClassifier.Classification c = classifier.classify(r.info());
                String bare = strip(mn, NameAlignment.prefixesFor(baseConfig, configs.get(i)));
                if (Architectures.TIED_OUTPUT_EMBEDDING.matcher(bare).find() && baseConfig.tiesWordEmbeddings()) {
                    extras.add(new MergePlan.Extra(i, mn, r, c.role(), "left out: the base ties it to its input"
                            + " embedding", false));
                } else if (c.role() == TensorRole.BUFFER || !r.info().dtype().mergeable()) {
                    extras.add(new MergePlan.Extra(i, mn, r, c.role(), "left out: a buffer the base does not have",
                            false));
                } else if (c.role() == TensorRole.HEAD) {
                    if (i == fromModel) {
                        DType d = o.outDType() != null ? o.outDType() : r.info().dtype();
                        entries.add(new MergePlan.Entry(mn, null, TensorRole.HEAD, c.layout(), c.source(),
                                r.info().shape().clone(), d, MergePlan.Action.FROM_MODEL, "from model " + (i + 1),
                                List.of(i), List.of(r), Map.of(), -1));
                        extras.add(new MergePlan.Extra(i, mn, r, c.role(), "in the output (--heads from:" + (i + 1)
                                + ")", false));
                    } else if (heads.kind() == HeadPolicy.Kind.SAVE) {
                        extras.add(new MergePlan.Extra(i, mn, r, c.role(), "saved to heads/" + headsFile(i), true));
                    } else {
                        extras.add(new MergePlan.Extra(i, mn, r, c.role(), "left out: a task head the base lacks",
                                false));
                    }
                } else {
                    if (bodyExtra.isEmpty() || bodyExtraModel == i) {
                        bodyExtraModel = i;
                        bodyExtra.add(mn);
                    }
                }
            }
        }
        if (!bodyExtra.isEmpty()) {
            throw new CheckpointException(who(models, bodyExtraModel) + " has " + bodyExtra.size() + " tensor"
                    + (bodyExtra.size() == 1 ? "" : "s") + " of the body that the base " + base.path() + " lacks: "
                    + first(bodyExtra) + "; it is not a fine-tune of this base");
        }
        if (fromModel >= 0) {
            entries = asModelSpellsThem(entries, alignments.get(fromModel), models, fromModel, configs, grownRows,
                    notes);
        }
        int tokenizerFrom = vocabRows.sourceModel();
        if (grownTo > 0 && vocabRows.extendsToEveryRow()) {
            tokenizerFrom = tokenizerModel(entries, grownTo);
            if (tokenizerFrom >= 0 && !hasTokenizer(models.get(tokenizerFrom))) {
                notes.add(who(models, tokenizerFrom) + " holds every added row but has no tokenizer files: the output"
                        + " keeps the base's tokenizer, which lacks the added tokens; copy the fine-tune's tokenizer"
                        + " into the output");
                tokenizerFrom = -1;
            }
        }
        untouchedByMethod.forEach((i, n) -> notes.add(who(models, i) + ", a LoRA adapter, does not adapt " + n
                + " of the tensors " + o.method().name() + " merges: its task vector is zero there, and it takes part"
                + " with the base's weight"));
        if (o.scaleAuto()) {
            notes.add((o.wudiDefault() ? "the default merge (--solver adam for the paper's Adam, scale 1, the base's"
                    + " other tensors): " : "") + CoverageRule.summary());
        }
        notes.addAll(headNotes(entries, extras, models, heads));
        notes.addAll(vocabRows.notes(grownRows, tokenizerFrom, models));
        notes.addAll(extraNotes(extras, models));
        return new MergePlan(entries, extras, notes, baseConfig, configs, heads, grownTo, tokenizerFrom);
    }

    /**
     * --heads from:K: the output is model K's class, so it is written as model K's own checkpoint is. Names are K's
     * (a GPT2ForSequenceClassification fine-tune's {@code transformer.h.0...} beside its {@code score.weight}, where
     * the base is GPT2Model's bare {@code h.0...}: bare names beside a head are what transformers 4.x calls a corrupted
     * state dict); and where K brings heads of its own, the base's heads K lacks are left out (an untied
     * {@code lm_head.weight} is no key of LlamaForSequenceClassification).
     */
    private static List<MergePlan.Entry> asModelSpellsThem(List<MergePlan.Entry> entries, NameAlignment k,
                                                           List<Checkpoint> models, int fromModel,
                                                           List<ModelConfig> configs, Map<String, long[]> grownRows,
                                                           List<String> notes) {
        boolean ownHeads = entries.stream().anyMatch(e -> e.action() == MergePlan.Action.FROM_MODEL);
        List<String> dropped = new ArrayList<>();
        List<MergePlan.Entry> out = new ArrayList<>();
        int renamed = 0;
        for (MergePlan.Entry e : entries) {
            String why = e.leftOut().get(fromModel);
            if (ownHeads && e.role() == TensorRole.HEAD && e.action() != MergePlan.Action.FROM_MODEL && why != null
                    && why.startsWith("has no")) {
                dropped.add(e.name());
                grownRows.remove(e.name());
                continue;
            }
            String name = e.base() == null ? e.name() : k.spelled(e.name());   // heads the base lacks: K's already
            if (!name.equals(e.name())) {
                renamed++;
            }
            out.add(name.equals(e.name()) ? e : new MergePlan.Entry(name, e.base(), e.role(), e.layout(),
                    e.layoutSource(), e.outShape(), e.outDType(), e.action(), e.label(), e.models(), e.sources(),
                    e.leftOut(), e.baseRows()));
        }
        String cls = configs.get(fromModel).architectures().isEmpty() ? "its class"
                : configs.get(fromModel).architectures().get(0);
        if (renamed > 0) {
            notes.add(renamed + " output name" + (renamed == 1 ? "" : "s") + " spelled as " + who(models, fromModel)
                    + " spells them (" + out.get(0).name() + ", ...), so that transformers loads the output as " + cls
                    + " (--heads from:" + (fromModel + 1) + ")");
        }
        if (!dropped.isEmpty()) {
            notes.add("the base's " + first(dropped) + " left out: " + who(models, fromModel) + " has no such head and"
                    + " the output is " + cls + " (--heads from:" + (fromModel + 1) + ")");
        }
        return out;
    }

    /**
     * A LoRA adapter that does not adapt a weight stands for the base's own tensor there (the same reference): its
     * task vector is exactly zero, which WUDI leaves out of the loss, so it is left out of the tensor and said so.
     * Returns true where every model was left out this way.
     */
    private static boolean leaveOutUntouched(TensorRef base, List<Integer> idx, List<TensorRef> src,
                                             Map<Integer, String> left) {
        for (int k = src.size() - 1; k >= 0; k--) {
            if (src.get(k) == base) {
                left.put(idx.get(k), UNTOUCHED);
                idx.remove(k);
                src.remove(k);
            }
        }
        return idx.isEmpty() && !left.isEmpty() && left.values().stream().allMatch(UNTOUCHED::equals);
    }

    /** "wudi (adam)", "task-arithmetic", ... */
    static String methodLabel(MergeSpec o) {
        return o.method() == MergeMethods.WUDI ? "wudi (" + o.effectiveSolver().name() + ")" : o.method().name();
    }

    static String headsFile(int model) {
        return "model-" + (model + 1) + ".safetensors";
    }

    /** A vocabulary tensor with more rows in the model than in the base, the same otherwise. */
    private static boolean grows(TensorInfo b, TensorInfo m, TensorRole role) {
        return vocabulary(b, m, role) && m.shape()[0] > b.shape()[0];
    }

    private static boolean shrinks(TensorInfo b, TensorInfo m, TensorRole role) {
        return vocabulary(b, m, role) && m.shape()[0] < b.shape()[0];
    }

    private static boolean vocabulary(TensorInfo b, TensorInfo m, TensorRole role) {
        if (b.rank() != m.rank() || b.rank() == 0 || !VOCABULARY.matcher(b.name()).find()
                || !(role == TensorRole.EMBEDDING || role == TensorRole.HEAD || role == TensorRole.BIAS)) {
            return false;
        }
        return Arrays.equals(Arrays.copyOfRange(b.shape(), 1, b.rank()), Arrays.copyOfRange(m.shape(), 1, m.rank()));
    }

    private static boolean hasTokenizer(Checkpoint m) {
        return m.isFolder() && VocabularyRows.hasTokenizer(m.path());
    }

    /** A model whose every grown tensor has the output's row count: its tokenizer knows every added token. */
    private static int tokenizerModel(List<MergePlan.Entry> entries, long rows) {
        int best = -1;
        for (MergePlan.Entry e : entries) {
            if (!e.grown() || e.outShape()[0] != rows) {
                continue;
            }
            for (int k = 0; k < e.sources().size(); k++) {
                if (e.sources().get(k).info().shape()[0] == rows) {
                    int m = e.models().get(k);
                    best = best < 0 ? m : Math.min(best, m);
                }
            }
            break;
        }
        return best;
    }

    private static void checkArchitecture(Checkpoint base, ModelConfig baseConfig, List<Checkpoint> models,
                                          List<ModelConfig> configs) {
        Map<String, String> want = baseConfig.architectureFields();
        for (int i = 0; i < models.size(); i++) {
            Map<String, String> got = configs.get(i).architectureFields();
            List<String> diffs = new ArrayList<>();
            for (Map.Entry<String, String> e : want.entrySet()) {
                String v = got.get(e.getKey());
                if (v != null && !v.equals(e.getValue())) {
                    diffs.add(e.getKey() + " (base " + e.getValue() + ", model " + v + ")");
                }
            }
            if (!diffs.isEmpty()) {
                throw new CheckpointException(who(models, i) + " is not a fine-tune of the base " + base.path()
                        + ": its config.json differs in " + String.join(", ", diffs));
            }
        }
    }

    /** An override that applies to no tensor is a typo the user should hear about. */
    private static void checkOverrides(List<LayoutOverride> layouts, List<TensorInfo> tensors) {
        for (LayoutOverride o : layouts) {
            boolean applies = tensors.stream().anyMatch(t -> o.regex().matcher(t.name()).find()
                    && o.layout().fits(t.rank()));
            if (!applies) {
                throw new OptionException("--layout " + o + " matches no tensor of the base of a rank that"
                        + " layout fits (" + (o.layout().stacked() ? "3" : o.layout() == dev.wudi.model.Layout.CONV
                        ? "3 or more" : "2") + "-D)");
            }
        }
    }

    private static void refuseMissing(Checkpoint base, List<Checkpoint> models, List<List<String>> missing) {
        for (int i = 0; i < models.size(); i++) {
            List<String> m = missing.get(i);
            if (!m.isEmpty()) {
                throw new CheckpointException(who(models, i) + " lacks " + m.size() + " tensor" + (m.size() == 1 ? "" : "s")
                        + " of the body that the base " + base.path() + " has: " + first(m)
                        + "; it is not a fine-tune of this base");
            }
        }
    }

    private static List<String> headNotes(List<MergePlan.Entry> entries, List<MergePlan.Extra> extras,
                                          List<Checkpoint> models, HeadPolicy heads) {
        List<String> out = new ArrayList<>();
        Map<String, List<String>> differing = new LinkedHashMap<>();
        for (MergePlan.Entry e : entries) {
            e.leftOut().forEach((i, why) -> {
                if (e.role() == TensorRole.HEAD && why.startsWith("shape")) {
                    differing.computeIfAbsent(e.name(), k -> new ArrayList<>()).add("model " + (i + 1));
                }
            });
        }
        differing.forEach((name, who) -> out.add("task head " + name + " has another shape than the base's in "
                + String.join(", ", who) + ": " + (who.size() == 1 ? "that model is" : "those models are")
                + " left out of it" + (heads.kind() == HeadPolicy.Kind.FROM ? "" : " (--heads from:K takes model K's)")));
        Map<String, List<String>> lacking = new LinkedHashMap<>();
        for (MergePlan.Extra x : extras) {
            if (x.role() == TensorRole.HEAD && x.fate().startsWith("left out: a task head")) {
                lacking.computeIfAbsent(x.name(), k -> new ArrayList<>()).add(String.valueOf(x.model() + 1));
            }
        }
        if (!lacking.isEmpty()) {
            List<String> parts = new ArrayList<>();
            lacking.forEach((n, who) -> parts.add(n + " (model " + String.join(", ", who) + ")"));
            out.add(lacking.size() + " task head tensor" + (lacking.size() == 1 ? "" : "s") + " the base lacks "
                    + (lacking.size() == 1 ? "is" : "are") + " left out: " + first(parts)
                    + "; --heads save keeps each model's heads in OUT/heads/, --heads from:K puts model K's in the output");
        }
        Map<Integer, List<String>> saved = new TreeMap<>();
        for (MergePlan.Extra x : extras) {
            if (x.saved()) {
                saved.computeIfAbsent(x.model(), k -> new ArrayList<>()).add(x.name() + " " + x.ref().info().shapeString());
            }
        }
        saved.forEach((i, names) -> out.add(who(models, i) + ": task head saved to heads/" + headsFile(i) + " ("
                + first(names) + ")"));
        return out;
    }

    private static List<String> extraNotes(List<MergePlan.Extra> extras, List<Checkpoint> models) {
        List<String> out = new ArrayList<>();
        Map<String, List<String>> byFate = new LinkedHashMap<>();
        for (MergePlan.Extra x : extras) {
            if (x.fate().startsWith("left out: the base ties") || x.fate().startsWith("left out: a buffer")) {
                byFate.computeIfAbsent(x.fate(), k -> new ArrayList<>()).add(x.name() + " (model " + (x.model() + 1) + ")");
            }
        }
        byFate.forEach((fate, names) -> out.add(names.size() + " tensor" + (names.size() == 1 ? "" : "s") + " "
                + fate + ": " + first(names)));
        return out;
    }

    private static String strip(String name, List<String> prefixes) {
        for (String p : prefixes) {
            if (name.startsWith(p + ".")) {
                return name.substring(p.length() + 1);
            }
        }
        return name;
    }

    static String who(List<Checkpoint> models, int i) {
        return "model " + (i + 1) + " (" + models.get(i).path() + ")";
    }

    static String first(List<String> names) {
        String s = String.join(", ", names.subList(0, Math.min(LIST_AT_MOST, names.size())));
        return names.size() > LIST_AT_MOST ? s + ", ... (" + names.size() + " in all)" : s;
    }
}
