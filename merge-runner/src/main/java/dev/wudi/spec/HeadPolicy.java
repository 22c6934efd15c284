package dev.wudi.spec;

import java.util.Locale;

/**
 * What happens to task heads that the output cannot hold as they are: heads a fine-tune has and the base lacks
 * (score.weight of a GPT2ForSequenceClassification fine-tune of GPT-2), and heads whose shape differs from the
 * base's (a classifier of 6 classes against the base's 2). Heads of different tasks cannot be merged into one;
 * each task is used with the merged body and its own head (as the paper evaluates).
 *
 * @param kind  what to do
 * @param model for FROM: the 1-based --model whose heads the output takes
 */
public record HeadPolicy(Kind kind, int model) {

    public enum Kind {
        /** SAVE for a folder output, DROP for a single-file output. */
        AUTO,
        /** Left out of the output and named in the summary and the report. */
        DROP,
        /** Left out of the output's model and written, per model, to OUT/heads/model-K.safetensors. */
        SAVE,
        /** The output takes model K's heads (its shapes, and its config.json label fields). */
        FROM
    }

    public static final HeadPolicy AUTO = new HeadPolicy(Kind.AUTO, 0);

    /** Parses --heads: auto, drop, save or from:K. */
    public static HeadPolicy parse(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        switch (t) {
            case "auto":
                return AUTO;
            case "drop":
                return new HeadPolicy(Kind.DROP, 0);
            case "save":
                return new HeadPolicy(Kind.SAVE, 0);
            default:
                if (t.startsWith("from:")) {
                    try {
                        int k = Integer.parseInt(t.substring(5));
                        if (k >= 1) {
                            return new HeadPolicy(Kind.FROM, k);
                        }
                    } catch (NumberFormatException e) {
                        // falls through to the message
                    }
                }
                throw new IllegalArgumentException("unknown --heads '" + s + "' (choose auto, drop, save or from:K,"
                        + " K = 1 for the first --model)");
        }
    }

    /** AUTO resolved for an output: a folder can hold the saved heads, a single file cannot. */
    public HeadPolicy resolve(boolean folderOutput) {
        if (kind != Kind.AUTO) {
            return this;
        }
        return new HeadPolicy(folderOutput ? Kind.SAVE : Kind.DROP, 0);
    }

    /** As --heads takes it. */
    public String cliName() {
        return kind == Kind.FROM ? "from:" + model : kind.name().toLowerCase(Locale.ROOT);
    }
}
