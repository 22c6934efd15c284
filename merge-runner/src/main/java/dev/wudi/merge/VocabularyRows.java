package dev.wudi.merge;

import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.TensorInfo;
import dev.wudi.model.ModelConfig;
import dev.wudi.model.TensorRole;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.OptionException;
import dev.wudi.spec.TokenizerSource;
import dev.wudi.spec.VocabPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How many rows each vocabulary tensor (embeddings, an untied lm_head, their biases) has in the output, and whose
 * tokenizer goes with them, where fine-tunes added tokens. Added tokens are read as rows appended to the base's
 * vocabulary, so row r is the same token in every model that has it; rows past the base's are the mean of the models
 * that have them ({@code method/GrownRows}), the base's rows follow the tensor's rule.
 * <ul>
 *   <li>A config's tokenizer_source decides, as in mergekit, where the output's vocabulary is the chosen
 *       tokenizer's: {@code base} keeps the base's rows and tokenizer; a model's path gives that model's rows (so
 *       another model's further rows are left out) and its tokenizer files. A folder that is none of the merge's
 *       models gives its config.json vocab_size, which must lie between the base's and the models' largest.</li>
 *   <li>Without one, --vocab: extend (the default) keeps every added row, with the tokenizer of a model that holds
 *       them all; base keeps the base's rows and tokenizer (mergekit without a tokenizer_source keeps the rows every
 *       model has, the same rows).</li>
 * </ul>
 * config.json's vocab_size follows the rows of the tensors the base sizes by it.
 */
final class VocabularyRows {

    private enum Kind { EXTEND, BASE, MODEL, FOLDER }

    private final Kind kind;
    private final TokenizerSource source;
    private final int model;
    private final long folderRows;
    private final long baseVocab;

    private VocabularyRows(Kind kind, TokenizerSource source, int model, long folderRows, long baseVocab) {
        this.kind = kind;
        this.source = source;
        this.model = model;
        this.folderRows = folderRows;
        this.baseVocab = baseVocab;
    }

    /** The choice a merge makes: its config's tokenizer_source (which must hold a tokenizer), else --vocab. */
    static VocabularyRows of(MergeSpec o, Checkpoint base, List<Checkpoint> models, ModelConfig baseConfig)
            throws IOException {
        TokenizerSource t = o.config() != null ? o.config().tokenizer() : null;
        long baseVocab = baseConfig.vocabSize();
        if (t == null) {
            return new VocabularyRows(o.vocab() == VocabPolicy.BASE ? Kind.BASE : Kind.EXTEND, null, -1, -1, baseVocab);
        }
        if (t.isBase() || same(t.folder(), base.path())) {
            return new VocabularyRows(Kind.BASE, t, -1, -1, baseVocab);
        }
        if (!hasTokenizer(t.folder())) {
            throw new OptionException(t.describe() + ": " + t.folder() + " holds no tokenizer files ("
                    + String.join(", ", new java.util.TreeSet<>(OutputFiles.TOKENIZER_FILES)) + "); name a model"
                    + " folder with its tokenizer, or base");
        }
        for (int i = 0; i < models.size(); i++) {
            if (same(t.folder(), models.get(i).path())) {
                return new VocabularyRows(Kind.MODEL, t, i, -1, baseVocab);
            }
        }
        long rows = ModelConfig.of(t.folder()).vocabSize();
        if (rows <= 0) {
            throw new OptionException(t.describe() + " is none of the merge's models and its config.json gives no"
                    + " vocab_size, so the output's vocabulary size is unknown; name the base or one of the models");
        }
        return new VocabularyRows(Kind.FOLDER, t, -1, rows, baseVocab);
    }

    /**
     * The output's rows of a base tensor: its own where it is no vocabulary tensor or the choice keeps the base's.
     *
     * @param maxRows the most rows any model has of it (models with more rows than the base take part)
     * @param models  the 0-based models taking part, and their tensors (same order)
     */
    long rows(TensorInfo base, TensorRole role, long maxRows, List<Integer> models, List<TensorRef> sources) {
        long own = base.shape()[0];
        if (!vocabulary(base, role)) {
            return own;
        }
        switch (kind) {
            case EXTEND:
                return Math.max(own, maxRows);
            case MODEL: {
                int k = models.indexOf(model);
                return k >= 0 ? sources.get(k).info().shape()[0] : own;
            }
            case FOLDER: {
                if (own != baseVocab && baseVocab > 0) {
                    return own;                            // not indexed by the vocabulary (a padded copy)
                }
                if (folderRows < own || folderRows > Math.max(own, maxRows)) {
                    throw new OptionException(source.describe() + " has vocab_size " + folderRows + " (its config.json)"
                            + ", but the output's " + base.name() + " can have from " + own + " rows (the base's) to "
                            + Math.max(own, maxRows) + " (the most a model has); name the base or one of the models");
                }
                return folderRows;
            }
            default:
                return own;
        }
    }

    /** The 0-based model whose tokenizer the output takes as tokenizer_source, else -1. */
    int sourceModel() {
        return kind == Kind.MODEL ? model : -1;
    }

    /** Whether the tokenizer is the one of a model holding every added row (--vocab extend, no tokenizer_source). */
    boolean extendsToEveryRow() {
        return kind == Kind.EXTEND;
    }

    /**
     * What the user should know: the rows kept and left out and whose tokenizer the output has.
     *
     * @param grown         each vocabulary tensor some model grew: {base rows, output rows, the most a model has}
     * @param tokenizerFrom the model holding every added row whose tokenizer is taken (--vocab extend), or -1
     */
    List<String> notes(Map<String, long[]> grown, int tokenizerFrom, List<Checkpoint> models) {
        List<String> out = new ArrayList<>();
        if (grown.isEmpty()) {
            if (source != null && !source.isBase() && kind != Kind.BASE) {
                out.add(source.describe() + ": the output's tokenizer files are " + source.folder() + "'s");
            }
            return out;
        }
        List<String> names = new ArrayList<>(grown.keySet());
        String which = MergePlanner.first(names);
        long[] any = grown.values().iterator().next();
        long baseRows = any[0];
        long rows = any[1];
        long most = any[2];
        String grew = "the vocabulary grew in some models (" + which + "): ";
        switch (kind) {
            case EXTEND:
                out.add(grew + "the output has " + rows + " rows; rows past the base's " + baseRows
                        + " are the mean of the models that have them" + (tokenizerFrom >= 0 ? "; tokenizer files are"
                        + " taken from " + MergePlanner.who(models, tokenizerFrom) : "") + " (--vocab base keeps the"
                        + " base's)");
                break;
            case BASE:
                out.add(grew + (source == null ? "--vocab base keeps the base's " + baseRows + " rows and leaves the"
                        + " added rows out" : source.describe() + " keeps the base's " + baseRows + " rows and"
                        + " tokenizer; the added rows are left out"));
                break;
            default: {
                String who = kind == Kind.MODEL ? " (model " + (model + 1) + ")" : "";
                StringBuilder s = new StringBuilder(grew);
                if (rows == baseRows) {
                    s.append(source.describe()).append(who).append(" has the base's ").append(baseRows)
                            .append(" rows: the output keeps them");
                } else {
                    s.append("the output has ").append(rows).append(" rows, as ").append(source.describe()).append(who)
                            .append("; rows past the base's ").append(baseRows)
                            .append(" are the mean of the models that have them");
                }
                if (most > rows) {
                    s.append("; rows past ").append(rows).append(" (up to ").append(most).append(" in some models)")
                            .append(" are left out");
                }
                s.append("; tokenizer files are ").append(source.folder()).append("'s");
                out.add(s.toString());
            }
        }
        return out;
    }

    /** A tensor indexed by the vocabulary: an embedding, an output head or its bias, by name. */
    private static boolean vocabulary(TensorInfo t, TensorRole role) {
        return t.rank() > 0 && MergePlanner.VOCABULARY.matcher(t.name()).find()
                && (role == TensorRole.EMBEDDING || role == TensorRole.HEAD || role == TensorRole.BIAS);
    }

    static boolean hasTokenizer(Path folder) {
        if (!Files.isDirectory(folder)) {
            return false;
        }
        for (String f : OutputFiles.TOKENIZER_FILES) {
            if (Files.isRegularFile(folder.resolve(f))) {
                return true;
            }
        }
        return false;
    }

    private static boolean same(Path a, Path b) {
        try {
            return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b);
        } catch (IOException e) {
            return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
        }
    }
}
