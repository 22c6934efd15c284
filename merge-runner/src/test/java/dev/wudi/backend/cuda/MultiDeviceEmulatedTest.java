package dev.wudi.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.wudi.checkpoint.TaskCheckpoints;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.format.TensorInfo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several GPUs merging one checkpoint ({@code --device cuda:all}, {@code cuda:2,0}, {@code cuda:all,cpu}) as a user
 * runs it, in child JVMs on the emulated driver with two and three devices (WUDI_EMU_DEVICES; java-bindings/src/test/c):
 * the output equals a one-device merge byte for byte, in the same order, whichever device took which tensor; a device
 * that fails (WUDI_EMU_FAIL_DEVICE) hands its tensor to the others with one warning, and when every GPU fails the CPU
 * takes over; with {@code ,cpu} every tensor is, byte for byte, either the GPU's or the CPU's merge of it. What the
 * emulator cannot show is real concurrency on real GPUs: its "devices" run the kernels in the calling thread.
 */
class MultiDeviceEmulatedTest {

    @TempDir
    static Path dir;
    static EmulatedDriver driver;
    static final String[] NAMES = {"a.weight", "a.bias", "b.weight", "c.weight", "d.norm.weight", "e.weight",
        "f.weight", "g.weight"};
    static final long[][] SHAPES = {{48, 40}, {48}, {96, 64}, {24, 80}, {64}, {64, 64}, {16, 24}, {80, 32}};

    record Run(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "\n--- stderr\n" + err;
        }
    }

    @BeforeAll
    static void setUp() throws Exception {
        driver = EmulatedDriver.build(dir);
        for (int m = 0; m <= 3; m++) {
            TaskCheckpoints.write(dir.resolve("m" + m + ".safetensors"), NAMES, SHAPES, m, 1000);
        }
    }

    private static Run merge(int devices, String failing, String device, String out, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-cp", System.getProperty("java.class.path"), "dev.wudi.cli.Main", "merge",
                "--base", dir.resolve("m0.safetensors").toString()));
        for (int m = 1; m <= 3; m++) {
            cmd.addAll(List.of("--model", dir.resolve("m" + m + ".safetensors").toString()));
        }
        cmd.addAll(List.of("--out", dir.resolve(out).toString(), "--device", device, "--iters", "7", "--force",
                "--report", dir.resolve(out + ".json").toString()));
        cmd.addAll(List.of(extra));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Map<String, String> env = new HashMap<>(Map.of("LD_LIBRARY_PATH", driver.cuda().getParent().toString(),
                "WUDI_CUBLAS", driver.cublas().toString(), "WUDI_CUSOLVER", driver.cusolver().toString(),
                "WUDI_EMU_DEVICES", Integer.toString(devices)));
        if (failing != null) {
            env.put("WUDI_EMU_FAIL_DEVICE", failing);
        }
        pb.environment().putAll(env);
        Path o = Files.createTempFile(dir, "run", ".out");
        Path e = Files.createTempFile(dir, "run", ".err");
        Process p = pb.redirectOutput(o.toFile()).redirectError(e.toFile()).start();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "merge did not finish in 300 s");
        return new Run(p.exitValue(), Files.readString(o, StandardCharsets.UTF_8), Files.readString(e, StandardCharsets.UTF_8));
    }

    private static byte[] bytes(String out) throws Exception {
        return Files.readAllBytes(dir.resolve(out));
    }

    private static String device(String out) throws Exception {
        JsonNode r = new ObjectMapper().readTree(dir.resolve(out + ".json").toFile());
        return r.get("device").asText();
    }

    /** Each dealt tensor's device (its position in the --device list) from the JSON report. */
    private static Map<String, Integer> devices(String out) throws Exception {
        Map<String, Integer> m = new HashMap<>();
        for (JsonNode t : new ObjectMapper().readTree(dir.resolve(out + ".json").toFile()).get("tensors")) {
            if (t.has("solver") && t.get("solver").has("device")) {
                m.put(t.get("name").asText(), t.get("solver").get("device").asInt());
            }
        }
        return m;
    }

    private static long count(String text, String needle) {
        return text.lines().filter(l -> l.contains(needle)).count();
    }

    @Test
    void everyGpuOfTheNodeGivesTheOneDeviceBytesInTheSameOrder() throws Exception {
        Run one = merge(3, null, "cuda:0", "one.safetensors");
        assertEquals(0, one.exit(), one.toString());
        for (String[] c : new String[][] {{"3", "cuda:all", "all3.safetensors"}, {"3", "cuda:2,0", "some.safetensors"},
            {"2", "cuda:all", "all2.safetensors"}}) {
            Run r = merge(Integer.parseInt(c[0]), null, c[1], c[2]);
            assertEquals(0, r.exit(), c[1] + ": " + r);
            assertArrayEquals(bytes("one.safetensors"), bytes(c[2]), c[1] + " on " + c[0] + " devices: the bytes of cuda:0");
            assertTrue(count(r.err(), "failed") == 0, r.err());
        }
        assertEquals("cuda:0+cuda:1+cuda:2", device("all3.safetensors"));
        Map<String, Integer> dealt = devices("all3.safetensors");
        assertEquals(6, dealt.size(), "every weight matrix was dealt: " + dealt);
        assertTrue(new java.util.HashSet<>(dealt.values()).size() >= 2, "several devices took tensors: " + dealt);
        assertEquals("cuda:2+cuda:0", device("some.safetensors"));
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("all3.safetensors"))) {
            List<String> order = f.tensors().stream().map(TensorInfo::name).toList();
            try (SafetensorsFile g = SafetensorsFile.open(dir.resolve("one.safetensors"))) {
                assertEquals(g.tensors().stream().map(TensorInfo::name).toList(), order);
            }
        }
    }

    @Test
    void aFailingDeviceHandsItsTensorsToTheOthersAndTheCpuTakesOverFromTheLast() throws Exception {
        Run one = merge(3, null, "cuda:0", "ref-gpu.safetensors");
        assertEquals(0, one.exit(), one.toString());
        Run r = merge(3, "1", "cuda:all", "fail1.safetensors");
        assertEquals(0, r.exit(), r.toString());
        assertEquals(1, count(r.err(), "device cuda:1 failed on tensor"), r.err());
        assertTrue(r.err().contains("the other devices share its work"), r.err());
        assertArrayEquals(bytes("ref-gpu.safetensors"), bytes("fail1.safetensors"), "cuda:0 and cuda:2 did its work");

        Run cpu = merge(2, null, "cpu", "ref-cpu.safetensors");
        assertEquals(0, cpu.exit(), cpu.toString());
        Run all = merge(2, "0,1", "cuda:all", "failall.safetensors");
        assertEquals(0, all.exit(), all.toString());
        assertEquals(2, count(all.err(), "failed on tensor"), all.err());
        assertEquals(1, count(all.err(), "the CPU takes over"), all.err());
        assertArrayEquals(bytes("ref-cpu.safetensors"), bytes("failall.safetensors"), "the CPU merged every tensor");
    }

    @Test
    void withTheCpuEachTensorIsTheGpusOrTheCpusMergeOfIt() throws Exception {
        assertEquals(0, merge(2, null, "cuda:0", "g.safetensors").exit());
        assertEquals(0, merge(2, null, "cpu", "c.safetensors").exit());
        Run r = merge(2, null, "cuda:all,cpu", "mixed.safetensors");
        assertEquals(0, r.exit(), r.toString());
        assertEquals("cuda:0+cuda:1+cpu", device("mixed.safetensors"));
        try (SafetensorsFile mixed = SafetensorsFile.open(dir.resolve("mixed.safetensors"));
             SafetensorsFile g = SafetensorsFile.open(dir.resolve("g.safetensors"));
             SafetensorsFile c = SafetensorsFile.open(dir.resolve("c.safetensors"))) {
            Map<String, Integer> dealt = devices("mixed.safetensors");
            assertTrue(new java.util.HashSet<>(dealt.values()).size() >= 2, "several devices took tensors: " + dealt);
            for (TensorInfo t : mixed.tensors()) {
                float[] m = read(mixed, t);
                SafetensorsFile one = dealt.getOrDefault(t.name(), 0) == 2 ? c : g;   // position 2: the CPU
                assertArrayEquals(read(one, one.tensor(t.name())), m, t.name() + " on device "
                        + dealt.get(t.name()) + " is that device's merge of it");
            }
        }
    }

    @Test
    void deviceListsThatCannotBeUsedAreRefusedNamingWhy() throws Exception {
        Run twice = merge(2, null, "cuda:0,0", "x.safetensors");
        assertEquals(1, twice.exit(), twice.toString());
        assertTrue(twice.err().contains("names GPU 0 twice"), twice.err());
        Run missing = merge(2, null, "cuda:0,5", "x.safetensors");
        assertEquals(1, missing.exit(), missing.toString());
        assertTrue(missing.err().contains("no CUDA device 5"), missing.err());
        Run garbled = merge(2, null, "cuda:0,gpu1", "x.safetensors");
        assertEquals(1, garbled.exit(), garbled.toString());
        assertTrue(garbled.err().contains("expected cuda:all, or cuda:N,M"), garbled.err());
        assertTrue(!Files.exists(dir.resolve("x.safetensors")), "nothing written");
    }

    private static float[] read(SafetensorsFile f, TensorInfo t) throws Exception {
        float[] v = new float[(int) t.numel()];
        f.readFloats(t, 0, v, 0, v.length);
        return v;
    }
}
