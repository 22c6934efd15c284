package dev.wudi.config;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.MergeMethods;
import dev.wudi.spec.MergeOption;
import dev.wudi.spec.MergeSpec;
import dev.wudi.spec.OptionTable;
import dev.wudi.spec.TokenizerSource;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The config as run, written to the output as mergekit_config.yml and shown in the model card: the method, the base
 * and models, every parameter as the file gives it and every default the merge used written out. Running it again
 * gives the same merge and the same file (a fixed point), and mergekit's reader takes it:
 * <ul>
 *   <li>keys without a value are left out (mergekit's are all optional; a null chat_template would be refused
 *       here);</li>
 *   <li>numbers keep the file's own text where mergekit's YAML reader (PyYAML, YAML 1.1) and this one agree on it
 *       (0.5, 300, 1.0e-5); other spellings (1e-5, which PyYAML reads as a string) are written in a form both read as
 *       the same float; flags stay true and false; gradients and {filter, value} lists keep their shape;</li>
 *   <li>wudi's settings are those that apply to its solver, under their first config name (learning_rate for lr),
 *       with the command line's defaults (1.0e-5, not a float32's 9.999999747378752e-6);</li>
 *   <li>paths are written as given where they name the same file from the working directory (mergekit's reading),
 *       else as the absolute path they were resolved to (a path relative to the config's folder).</li>
 * </ul>
 */
final class ConfigAsRun {

    /** What opens the file; no source path, so a config run from the output writes the same bytes. */
    static final String HEADER = "# the config as run by wudi (every default written out)\n";

    /** Integers as YAML 1.1 and PyYAML read them (no leading zero: PyYAML reads 010 as octal). */
    private static final Pattern YAML11_INT = Pattern.compile("[-+]?(0|[1-9][0-9]*)");
    /** Floats both read: a dot, and a signed exponent if any (PyYAML reads 1e-5 and 1.0e5 as strings). */
    private static final Pattern YAML11_FLOAT = Pattern.compile("[-+]?[0-9]+\\.[0-9]*([eE][-+][0-9]+)?");

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS));   // a filter "0" stays a string

    private ConfigAsRun() {
    }

    /**
     * @param spec the merge the config stands for (without command-line options): which of wudi's settings apply
     */
    static String of(MergekitConfig c, MergeMethod m, MergeSpec spec) throws IOException {
        LocatedYaml doc = c.doc();
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("merge_method", c.method());
        if (c.base() != null) {
            root.put("base_model", ref(c.base()));
        }
        List<Object> models = new ArrayList<>();
        for (MergekitConfig.ModelEntry e : c.models()) {
            Map<String, Object> me = new LinkedHashMap<>();
            me.put("model", ref(e.ref()));
            if (!e.parameters().isEmpty()) {
                Map<String, Object> ps = new LinkedHashMap<>();
                e.parameters().keySet().forEach(k -> ps.put(k, value(doc, e.pointer() + "/parameters/" + k)));
                me.put("parameters", ps);
            }
            models.add(me);
        }
        root.put("models", models);
        Map<String, Object> ps = m == MergeMethods.WUDI ? wudi(c, spec) : method(c, m);
        if (!ps.isEmpty()) {
            root.put("parameters", ps);
        }
        if (c.dtype() != null) {
            root.put("dtype", c.dtype());
        }
        if (c.outDType() != null || c.dtype() != null) {
            root.put("out_dtype", c.outDType() != null ? c.outDType() : c.dtype());
        }
        TokenizerSource t = c.tokenizer();
        if (t != null) {
            root.put("tokenizer_source", t.isBase() ? t.text() : path(t.text(), t.folder()));
        }
        if (c.chatTemplate() != null) {
            root.put("chat_template", c.chatTemplate());
        }
        if (c.randomSeed() != null || m.random()) {
            root.put("random_seed", c.randomSeed() != null ? c.randomSeed() : 0L);
        }
        return HEADER + YAML.writeValueAsString(root);
    }

    /** A method's mergekit defaults, then the parameters given (a given one in its default's place). */
    private static Map<String, Object> method(MergekitConfig c, MergeMethod m) {
        Map<String, Object> ps = new LinkedHashMap<>();
        m.config().defaults().forEach((k, v) -> ps.put(k, v instanceof Number n ? number(n.toString()) : v));
        c.parameters().keySet().forEach(k -> ps.put(k, value(c.doc(), "/parameters/" + k)));
        return ps;
    }

    /**
     * wudi's settings in the options' order: each one that applies to this merge's solver, as given (under its first
     * config name) or at its default; settings without a default (a data-free rule) only where given. The default merge
     * (no solver setting given) writes none of the solver's: naming one runs that solver's own answer instead.
     */
    private static Map<String, Object> wudi(MergekitConfig c, MergeSpec spec) {
        Map<String, Object> ps = new LinkedHashMap<>();
        for (MergeOption o : OptionTable.ALL) {
            if (o.configNames().isEmpty() || !o.applies().test().test(spec)) {
                continue;
            }
            String given = null;
            for (String k : c.parameters().keySet()) {
                given = o.configNames().contains(k) ? k : given;
            }
            for (String k : c.options().keySet()) {
                given = o.configNames().contains(k) ? k : given;
            }
            if (given != null) {
                ps.put(o.configNames().get(0), value(c.doc(), "/parameters/" + given));
            } else if (o == OptionTable.EXCLUDE && c.options().containsKey("exclude_regex")) {
                ps.put("exclude_regex", c.options().get("exclude_regex"));   // mergekit's, matched ignoring case
            } else if (o.group() == MergeOption.Group.SOLVER && spec.wudiDefault()) {
                continue;       // the default merge is the absence of solver settings: any written would change it
            } else if (o.defaultFor(spec) != null) {
                String d = o.defaultFor(spec);
                ps.put(o.configNames().get(0), d.matches("[-+0-9.eE]+") ? number(d) : d);
            }
        }
        return ps;
    }

    /** The value at a pointer of the file, as written back: maps and lists kept, numbers as {@link #number}. */
    private static Object value(LocatedYaml doc, String pointer) {
        JsonNode n = doc.root().at(pointer);
        if (n.isNumber()) {
            String text = doc.numberText(pointer);
            return text != null && (YAML11_INT.matcher(text).matches() || YAML11_FLOAT.matcher(text).matches())
                    ? new YamlNumber(text) : n.isIntegralNumber() ? new YamlNumber(n.bigIntegerValue().toString())
                    : new YamlNumber(decimal(n.doubleValue()));
        }
        if (n.isBoolean()) {
            return n.booleanValue();
        }
        if (n.isTextual()) {
            return n.textValue();
        }
        if (n.isArray()) {
            List<Object> out = new ArrayList<>();
            for (int i = 0; i < n.size(); i++) {
                out.add(value(doc, pointer + "/" + i));
            }
            return out;
        }
        Map<String, Object> out = new LinkedHashMap<>();
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!n.get(k).isNull()) {                      // filter: null is no filter
                out.put(k, value(doc, pointer + "/" + k.replace("~", "~0").replace("/", "~1")));
            }
        }
        return out;
    }

    /** A default's number: integers as integers, other numbers as {@link #decimal}. */
    static YamlNumber number(String text) {
        if (YAML11_INT.matcher(text).matches() || YAML11_FLOAT.matcher(text).matches()) {
            return new YamlNumber(text);
        }
        return new YamlNumber(decimal(Double.parseDouble(text)));
    }

    /** The shortest decimal of a double in a form PyYAML reads as a float: 1.0e-5, 1.0e+20, 0.15. */
    static String decimal(double v) {
        String s = Double.toString(v);
        int e = s.indexOf('E');
        if (e < 0) {
            return s;
        }
        String exp = s.substring(e + 1);
        return s.substring(0, e) + "e" + (exp.startsWith("-") ? exp : "+" + exp);
    }

    /** A model reference as given where the working directory resolves it there, else its resolved paths. */
    private static String ref(MergekitConfig.ModelRef r) {
        String[] parts = r.text().split("\\+", -1);
        String model = path(parts[0], r.model());
        return r.lora() == null ? model : model + "+" + path(parts[1], r.lora());
    }

    private static String path(String text, Path resolved) {
        return Path.of(text).equals(resolved) ? text : resolved.toAbsolutePath().normalize().toString();
    }

    /** A number written as this text, unquoted. */
    @JsonSerialize(using = YamlNumber.Writer.class)
    record YamlNumber(String text) {
        static final class Writer extends JsonSerializer<YamlNumber> {
            @Override
            public void serialize(YamlNumber n, JsonGenerator g, SerializerProvider p) throws IOException {
                g.writeNumber(n.text());
            }
        }
    }
}
