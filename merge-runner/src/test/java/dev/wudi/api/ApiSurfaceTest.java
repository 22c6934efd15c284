package dev.wudi.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The library's public surface (every public type of dev.wudi.api and its public members) is the one recorded in
 * api-surface.txt: a change to it is deliberate, made by updating that file (the actual surface is written to
 * target/api-surface.actual.txt to copy from), never a side effect.
 */
class ApiSurfaceTest {

    @Test
    void thePublicApiIsTheRecordedOne() throws Exception {
        List<String> actual = surface();
        String expected;
        try (InputStream in = ApiSurfaceTest.class.getResourceAsStream("api-surface.txt")) {
            assertNotNull(in, "api-surface.txt is missing");
            expected = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        String now = String.join("\n", actual) + "\n";
        Files.writeString(Path.of("target", "api-surface.actual.txt"), now);
        assertEquals(expected, now, "the public API of dev.wudi.api changed; if that is intended, copy"
                + " merge-runner/target/api-surface.actual.txt over src/test/resources/dev/wudi/api/api-surface.txt");
    }

    /** One line per public type and per public member, sorted. */
    static List<String> surface() throws IOException, URISyntaxException, ClassNotFoundException {
        Path dir = Path.of(CheckpointMerge.class.getResource("CheckpointMerge.class").toURI()).getParent();
        List<String> lines = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s.sorted()::iterator) {
                String file = p.getFileName().toString();
                if (!file.endsWith(".class") || file.equals("package-info.class")) {
                    continue;
                }
                Class<?> c = Class.forName("dev.wudi.api." + file.substring(0, file.length() - 6));
                if (!Modifier.isPublic(c.getModifiers()) || c.isAnonymousClass() || c.isSynthetic()
                        || (c.getEnclosingClass() != null && !Modifier.isPublic(c.getEnclosingClass().getModifiers()))) {
                    continue;
                }
                String kind = c.isRecord() ? "record" : c.isEnum() ? "enum" : c.isInterface() ? "interface" : "class";
                String type = c.getName().substring("dev.wudi.api.".length());
                lines.add(kind + " " + type);
                for (Constructor<?> k : c.getDeclaredConstructors()) {
                    if (Modifier.isPublic(k.getModifiers())) {
                        lines.add(type + " :: " + k.toGenericString());
                    }
                }
                for (Method m : c.getDeclaredMethods()) {
                    if (Modifier.isPublic(m.getModifiers()) && !m.isSynthetic() && !m.isBridge()) {
                        lines.add(type + " :: " + m.toGenericString());
                    }
                }
                for (Field f : c.getDeclaredFields()) {
                    if (Modifier.isPublic(f.getModifiers())) {
                        lines.add(type + " :: " + f.toGenericString());
                    }
                }
            }
        }
        lines.sort(null);
        return lines;
    }
}
