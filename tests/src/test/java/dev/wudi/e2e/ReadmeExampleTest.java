package dev.wudi.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's library example compiles as written, against the library as built. */
class ReadmeExampleTest {

    @TempDir
    Path tmp;

    @Test
    void theLibraryExampleCompiles() throws Exception {
        Path readme = Files.exists(Path.of("..", "README.md")) ? Path.of("..", "README.md") : Path.of("README.md");
        String text = Files.readString(readme);
        int section = text.indexOf("### As a Java library");
        assertTrue(section >= 0, "the README has its library section");
        int start = text.indexOf("```java\n", section);
        int end = text.indexOf("```", start + 8);
        assertTrue(start > 0 && end > start, "a Java block in that section");
        String code = text.substring(start + 8, end);
        assertTrue(code.contains("public class MergeExample"), code);
        Path file = Files.writeString(tmp.resolve("MergeExample.java"), code);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "a JDK's compiler");
        StringWriter err = new StringWriter();
        int rc = javac.getTask(err, null, null, List.of("-d", tmp.toString(), "-classpath",
                System.getProperty("java.class.path")), null,
                javac.getStandardFileManager(null, null, null).getJavaFileObjects(file)).call() ? 0 : 1;
        assertEquals(0, rc, "the README's example compiles:\n" + err);
        assertTrue(Files.exists(tmp.resolve("MergeExample.class")));
    }
}
