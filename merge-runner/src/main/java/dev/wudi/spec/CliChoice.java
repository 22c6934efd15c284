package dev.wudi.spec;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** An option whose value is one of an enum's command-line names (--rest, --vocab, --card). */
public interface CliChoice {

    /** The value as the option takes it. */
    String cliName();

    /**
     * The constant whose name is s (case and surrounding blanks ignored).
     *
     * @throws IllegalArgumentException "unknown OPTION 's' (choose a, b or c)"
     */
    static <E extends Enum<E> & CliChoice> E parse(Class<E> type, String option, String s) {
        String n = s.trim().toLowerCase(Locale.ROOT);
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            if (e.cliName().equals(n)) {
                return e;
            }
            names.add(e.cliName());
        }
        String last = names.remove(names.size() - 1);
        throw new IllegalArgumentException("unknown " + option + " '" + s + "' (choose "
                + (names.isEmpty() ? last : String.join(", ", names) + " or " + last) + ")");
    }
}
