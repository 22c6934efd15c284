package dev.wudi.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The base's own model card (its README.md), as the merge card keeps it: its body, quoted at the end of the merge
 * card, and the licence its front matter gives, which the merged weights inherit. The rest of its front matter (the
 * base's tags, datasets, metrics, widget) describes the base, not the merge, and is left out.
 *
 * @param file    where it was read
 * @param body    the card without its front matter, trailing blank lines dropped
 * @param license the front matter's license, license_name and license_link, those it gives, in that order
 */
record BaseCard(Path file, String body, Map<String, String> license) {

    /** The front matter keys that say under which licence the base, and so the merge, may be used. */
    private static final List<String> LICENSE_KEYS = List.of("license", "license_name", "license_link");

    /** The base folder's card, or null where it has none (or the base is a file). */
    static BaseCard of(Path baseFolder) throws IOException {
        Path file = baseFolder.resolve(OutputFiles.CARD);
        if (!Files.isRegularFile(file)) {
            return null;
        }
        return parse(file, Files.readString(file));
    }

    static BaseCard parse(Path file, String text) {
        String t = text.replace("\r\n", "\n");
        Map<String, String> license = new LinkedHashMap<>();
        String body = t;
        if (t.startsWith("---\n")) {
            int end = t.indexOf("\n---\n", 3);
            int endAtEof = t.endsWith("\n---") ? t.length() - 4 : -1;
            int close = end >= 0 ? end : endAtEof;
            if (close >= 0) {
                license = license(t.substring(4, close + 1));
                body = close + 5 <= t.length() ? t.substring(close + 5) : "";
            }
        }
        // blank lines around the body are the front matter's spacing, not the card's
        return new BaseCard(file, body.strip().isEmpty() ? "" : body.replaceFirst("^(\\s*\n)+", "").stripTrailing(),
                license);
    }

    /** The licence keys of the front matter; none where it is not YAML a reader could parse (the hub would not). */
    private static Map<String, String> license(String yaml) {
        Map<String, String> out = new LinkedHashMap<>();
        try {
            JsonNode front = new ObjectMapper(new YAMLFactory()).readTree(yaml);
            for (String k : LICENSE_KEYS) {
                JsonNode v = front == null ? null : front.get(k);
                if (v != null && v.isValueNode() && !v.isNull() && !v.asText().isBlank()) {
                    out.put(k, v.asText());
                }
            }
        } catch (IOException unreadable) {
            // a front matter the hub cannot read either: the body is still quoted, no licence is claimed
        }
        return out;
    }
}
