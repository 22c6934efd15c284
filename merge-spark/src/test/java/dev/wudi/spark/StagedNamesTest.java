package dev.wudi.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.wudi.checkpoint.UsageMistakeException;
import dev.wudi.spec.OptionException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The driver's copies named back as the user gave them, in text, in errors (same exit code) and in a stream. */
class StagedNamesTest {

    private final StagedNames names = new StagedNames(Map.of("/s/in-1/a", "hdfs://nn/a", "/s/in-17/b", "hdfs://nn/b",
            "/s/out-3/m", "s3a://bucket/m"));

    @Test
    void everyCopyIsNamedAsGivenAndNoNameInsideALongerOne() {
        assertEquals("hdfs://nn/b/model-00001.safetensors and hdfs://nn/a, into s3a://bucket/m",
                names.apply("/s/in-17/b/model-00001.safetensors and /s/in-1/a, into /s/out-3/m"));
        assertEquals("nothing to rename", names.apply("nothing to rename"));
    }

    @Test
    void errorsKeepTheTypeThatGivesTheirExitCode() {
        Exception usage = names.apply(new UsageMistakeException("--out /s/out-3/m already exists"));
        assertInstanceOf(UsageMistakeException.class, usage);
        assertEquals("--out s3a://bucket/m already exists", usage.getMessage());
        assertInstanceOf(OptionException.class, names.apply(new OptionException("/s/in-1/a is given twice")));
        Exception io = names.apply(new IOException("/s/in-1/a: read failed"));
        assertEquals("hdfs://nn/a: read failed", io.getMessage());
        assertEquals("hdfs://nn/b/x", ((NoSuchFileException) names.apply(new NoSuchFileException("/s/in-17/b/x")))
                .getFile());
        IllegalStateException other = new IllegalStateException("no path here");
        assertSame(other, names.apply(other), "nothing renamed: the same exception");
    }

    @Test
    void aWrappedStreamRenamesWholeLinesAndProgressFrames() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream to = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        PrintStream wrapped = names.wrap(to);
        wrapped.print("[1/2] /s/in-1");                 // a path split across two writes
        wrapped.print("/a 50%\r");
        wrapped.println("merged -> /s/out-3/m");
        wrapped.print("no newline /s/in-17/b");
        wrapped.flush();
        assertEquals("[1/2] hdfs://nn/a 50%\rmerged -> s3a://bucket/m" + System.lineSeparator()
                + "no newline hdfs://nn/b", bytes.toString(StandardCharsets.UTF_8));
    }
}
