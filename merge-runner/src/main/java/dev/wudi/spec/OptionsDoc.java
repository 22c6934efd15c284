package dev.wudi.spec;

/**
 * docs/options.md, written from {@link OptionTable}: one table per group of options, each option with its value, its
 * default, what it applies to and what it does. A test keeps the file equal to what this writes.
 */
public final class OptionsDoc {

    private OptionsDoc() {
    }

    public static String render() {
        StringBuilder sb = new StringBuilder();
        sb.append("# Options of `wudi merge`\n\n");
        sb.append("`wudi merge`, `wudi plan`, `wudi mergekit-yaml` and `wudi-spark merge` take these options; a mergekit"
                + " config gives the same settings (WUDI's under the names in the last column), and the Java API's"
                + " builders set them too. Every surface checks them the same way: a value out of its range, or an"
                + " option given where it does not apply (`--method ties --lr 1e-4`), stops with exit 2 and one line"
                + " naming it. This page is generated from the options' one declaration"
                + " (`merge-runner/.../spec/OptionTable.java`); `wudi merge --help` says the same.\n");
        for (MergeOption.Group g : MergeOption.Group.values()) {
            sb.append("\n## ").append(g.title()).append("\n\n");
            sb.append("| option | default | applies to | what it does | in a config |\n|---|---|---|---|---|\n");
            for (MergeOption o : OptionTable.ALL) {
                if (o.group() != g) {
                    continue;
                }
                sb.append("| `").append(String.join("`, `", o.names()))
                        .append(o.flag() ? "" : " " + o.label()).append('`')
                        .append(o.repeatable() ? " (repeat)" : "").append(" | ")
                        .append(o.flag() ? "off" : o.defaultText() == null ? "" : "`" + o.defaultText() + "`")
                        .append(" | ").append(o.applies().where().isEmpty() ? "every merge" : o.applies().where())
                        .append(" | ").append(cell(o.help()))
                        .append(" | ").append(o.configNames().isEmpty() ? "" : "`" + String.join("`, `", o.configNames())
                                + "`")
                        .append(" |\n");
            }
        }
        sb.append("\nWhat decides the output: ");
        StringBuilder out = new StringBuilder();
        for (MergeOption o : OptionTable.ALL) {
            if (o.effect() != MergeOption.Effect.RUN && o.group() != MergeOption.Group.INPUTS) {
                out.append(out.length() == 0 ? "" : ", ").append('`').append(o.name()).append('`');
            }
        }
        sb.append(out).append(" (with the inputs' files): a `--resume` continues only where these are unchanged, and"
                + " the model card's reproduce command and the report's settings list them as given, defaults written"
                + " out.\n");
        return sb.toString();
    }

    private static String cell(String s) {
        return s.replace("|", "\\|");
    }
}
