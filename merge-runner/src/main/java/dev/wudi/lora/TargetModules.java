package dev.wudi.lora;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The target_modules of a merged adapter: what PEFT, loading it, must adapt is exactly the modules whose factors it
 * holds, no more (a module selected but absent from the file is "missing adapter keys" and keeps a fresh
 * initialisation) and no fewer (factors of a module not selected are never applied). The inputs' own names are
 * kept where they fit ("c_attn", as the adapters were trained with): a name is written when every module it selects
 * (PEFT's rule: equal to the module's path, or ending it after a dot) is written; the modules no kept name covers
 * (an input's name that also selects modules the merge leaves out, an input given target_modules as a regex) are
 * named by their full path, which selects that module alone.
 */
public final class TargetModules {

    private TargetModules() {
    }

    /**
     * @param written the modules whose factors the adapter holds, by their path in the adapted model
     * @param modules every module of the model, by path (those written among them)
     * @param inputs  the input adapters' configs
     */
    public static List<String> of(Collection<String> written, Collection<String> modules, List<AdapterConfig> inputs) {
        Set<String> names = new LinkedHashSet<>();
        for (AdapterConfig c : inputs) {
            if (c.targets().modules() != null && c.targets().regex() == null) {
                names.addAll(c.targets().modules());
            }
        }
        Set<String> all = new LinkedHashSet<>(modules);
        all.addAll(written);
        Set<String> covered = new LinkedHashSet<>();
        List<String> out = new ArrayList<>();
        for (String n : names) {
            List<String> selected = all.stream().filter(m -> m.equals(n) || m.endsWith("." + n)).toList();
            if (!selected.isEmpty() && written.containsAll(selected)) {
                out.add(n);
                covered.addAll(selected);
            }
        }
        for (String m : written) {
            if (!covered.contains(m)) {
                out.add(m);
            }
        }
        return out;
    }
}
