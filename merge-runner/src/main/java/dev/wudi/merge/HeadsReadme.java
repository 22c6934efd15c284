package dev.wudi.merge;

import com.fasterxml.jackson.databind.JsonNode;
import dev.wudi.checkpoint.Checkpoint;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.lora.LoraAdapter;
import dev.wudi.spec.MergeSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;
import java.util.regex.Pattern;

/**
 * heads/README.md: which saved head is whose (file, model, class, labels, tensors) and the lines that load the merged
 * body with one of them: transformers builds the head's class from the body's files (the head's keys start out at
 * random, as for any body loaded into a task class) and load_state_dict(strict=False) puts the head's tensors in.
 * An adapter output's body is the base with this adapter, so PEFT wraps the class once the head is in.
 */
final class HeadsReadme {

    /** The classifying layer whose rows are the labels, where a model's config.json does not give them. */
    private static final Pattern LABEL_ROWS = Pattern.compile("(^|\\.)(score|classifier|qa_outputs)\\.weight$");
    private static final int LABELS_SHOWN = 8;

    private final MergeSpec options;
    private final MergePlan plan;
    private final List<Checkpoint> models;
    private final List<LoraAdapter> adapters;

    HeadsReadme(MergeSpec options, MergePlan plan, List<Checkpoint> models, List<LoraAdapter> adapters) {
        this.options = options;
        this.plan = plan;
        this.models = models;
        this.adapters = adapters;
    }

    static String configFile(int model) {
        return "model-" + (model + 1) + ".config.json";
    }

    /**
     * @param heads     per 0-based model, its saved tensors by name
     * @param hasConfig whether model K's head has a model-K.config.json beside it
     */
    String render(Map<Integer, Map<String, TensorRef>> heads, IntPredicate hasConfig) {
        String out = options.out().toString();
        StringBuilder s = new StringBuilder("# Task heads\n\n");
        s.append("Heads of different tasks cannot be merged into one, so the merged model in `").append(out)
                .append("` holds the body the models share, and each model's own task head is kept here under the"
                        + " names its checkpoint gives them: each task is the merged body with its own head.\n\n");
        s.append("| file | model | class | labels | tensors |\n|---|---|---|---|---|\n");
        heads.forEach((k, tensors) -> {
            List<String> names = new ArrayList<>();
            tensors.forEach((n, r) -> names.add("`" + n + "` " + r.info().shapeString()));
            s.append("| `").append(MergePlanner.headsFile(k)).append("` | model ").append(k + 1).append(" (`")
                    .append(models.get(k).path()).append("`) | ")
                    .append(className(k) == null ? "not recorded (no config.json)" : "`" + className(k) + "`")
                    .append(hasConfig.test(k) ? " (`" + configFile(k) + "`)" : "").append(" | ").append(labels(k, tensors))
                    .append(" | ").append(String.join(", ", names)).append(" |\n");
        });
        s.append("\n## The merged body with one of these heads\n\n");
        s.append("transformers builds the head's class from the body's files and says the weights they lack are"
                + " newly initialised (and, where the body has a head of its own such as lm_head, that it is not"
                + " used); load_state_dict then puts the head's own weights in.\n");
        heads.forEach((k, tensors) -> {
            String auto = autoClass(k);
            String head = py(out + "/heads/" + MergePlanner.headsFile(k));
            s.append("\nModel ").append(k + 1).append(":\n\n```python\nfrom safetensors.torch import load_file\n")
                    .append("from transformers import ").append(hasConfig.test(k) ? "AutoConfig, " : "").append(auto)
                    .append('\n');
            if (options.asAdapterOutput()) {
                s.append("from peft import PeftModel\n\n");
                s.append("model = ").append(auto).append(".from_pretrained(").append(py(baseName()))
                        .append(loadOptions(k, tensors, hasConfig, out)).append(")\n");
                s.append("model.load_state_dict(load_file(").append(head).append("), strict=False)\n");
                s.append("model = PeftModel.from_pretrained(model, ").append(py(out)).append(")\n```\n");
            } else {
                s.append("\nmodel = ").append(auto).append(".from_pretrained(").append(py(out))
                        .append(loadOptions(k, tensors, hasConfig, out)).append(")\n");
                s.append("model.load_state_dict(load_file(").append(head).append("), strict=False)\n```\n");
            }
        });
        return s.toString();
    }

    /** config= the head's config.json, else num_labels= the rows of its classifying layer (if it has one). */
    private String loadOptions(int k, Map<String, TensorRef> tensors, IntPredicate hasConfig, String out) {
        if (hasConfig.test(k)) {
            return ", config=AutoConfig.from_pretrained(" + py(out + "/heads/" + configFile(k)) + ")";
        }
        long rows = labelRows(tensors);
        return rows > 0 ? ", num_labels=" + rows : "";
    }

    /** Where an adapter output's body comes from: --base, else the base the adapters name. */
    private String baseName() {
        if (options.base() != null) {
            return options.base().toString();
        }
        for (LoraAdapter a : adapters) {
            if (a != null && a.config().baseModel() != null) {
                return a.config().baseModel();
            }
        }
        return "BASE";
    }

    /** Model K's class: its config.json's architectures[0], or null. */
    private String className(int k) {
        List<String> a = plan.modelConfigs().get(k).architectures();
        return a.isEmpty() ? null : a.get(0);
    }

    /** The Auto class that builds model K's class (from its name, else its adapter's task_type). */
    private String autoClass(int k) {
        String c = className(k);
        if (c != null) {
            for (String[] x : new String[][] {{"ForSequenceClassification", "AutoModelForSequenceClassification"},
                {"ForTokenClassification", "AutoModelForTokenClassification"},
                {"ForQuestionAnswering", "AutoModelForQuestionAnswering"}, {"ForMaskedLM", "AutoModelForMaskedLM"},
                {"ForMultipleChoice", "AutoModelForMultipleChoice"}, {"ForCausalLM", "AutoModelForCausalLM"},
                {"LMHeadModel", "AutoModelForCausalLM"}, {"ForImageClassification", "AutoModelForImageClassification"}}) {
                if (c.endsWith(x[0])) {
                    return x[1];
                }
            }
            return "AutoModel";
        }
        String task = adapters.get(k) == null ? null : adapters.get(k).config().taskType();
        if (task == null) {
            return "AutoModelForSequenceClassification";
        }
        switch (task) {
            case "TOKEN_CLS": return "AutoModelForTokenClassification";
            case "QUESTION_ANS": return "AutoModelForQuestionAnswering";
            case "CAUSAL_LM": return "AutoModelForCausalLM";
            case "FEATURE_EXTRACTION": return "AutoModel";
            default: return "AutoModelForSequenceClassification";
        }
    }

    /** "3: negative, neutral, positive" from id2label, else the classifying layer's row count, else "-". */
    private String labels(int k, Map<String, TensorRef> tensors) {
        JsonNode id2label = plan.modelConfigs().get(k).json().path("id2label");
        if (id2label.isObject() && id2label.size() > 0) {
            List<String> shown = new ArrayList<>();
            for (int i = 0; i < Math.min(LABELS_SHOWN, id2label.size()); i++) {
                shown.add(id2label.path(String.valueOf(i)).asText("?"));
            }
            return id2label.size() + ": " + String.join(", ", shown) + (id2label.size() > LABELS_SHOWN ? ", ..." : "");
        }
        long rows = labelRows(tensors);
        return rows > 0 ? rows + " (the rows of its classifying layer; no id2label)" : "-";
    }

    private static long labelRows(Map<String, TensorRef> tensors) {
        for (Map.Entry<String, TensorRef> e : tensors.entrySet()) {
            if (LABEL_ROWS.matcher(e.getKey()).find() && e.getValue().info().rank() == 2) {
                return e.getValue().info().shape()[0];
            }
        }
        return -1;
    }

    /** A Python string literal. */
    private static String py(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
