package dev.wudi.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.selftest.SelfTest;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "selftest", mixinStandardHelpOptions = true,
        description = {"Prove the GPU engine on this machine in about a minute: the driver, the device, the kernels in"
                + " the jar, cuBLAS and cuSOLVER (where from, which version), every kernel against its host reference"
                + " (odd sizes, tails, 16-bit inputs), the copy bandwidth and SGEMM rate as a sanity check, and a short"
                + " WUDI merge on the device against the CPU backend with the largest deviation and its bound.",
            "One PASS or FAIL line per check; exit 0 only if every check passes, else 1."},
        footer = {"", "Examples:", "  wudi selftest", "  wudi selftest --device cuda:1 --json > selftest.json"})
public final class SelftestCommand implements Callable<Integer> {

    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "cuda:0",
            description = "The GPU to test: cuda or cuda:N (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--json", description = "One JSON document on stdout instead of lines.")
    boolean json;

    @Override
    public Integer call() {
        String d = device.trim().toLowerCase(Locale.ROOT);
        int ordinal;
        try {
            ordinal = d.equals("cuda") ? 0 : Integer.parseInt(d.substring(d.startsWith("cuda:") ? 5 : d.length()));
        } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
            throw new Errors.UsageException("--device " + device + ": selftest proves a GPU; give cuda or cuda:N");
        }
        long t0 = System.nanoTime();
        SelfTest.Report r = SelfTest.run(ordinal, c -> {
            if (!json) {
                System.out.println(c.line());
                System.out.flush();
            }
        });
        double seconds = (System.nanoTime() - t0) / 1e9;
        long failed = r.checks().stream().filter(c -> !c.passed()).count();
        if (json) {
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode root = mapper.createObjectNode().put("schema", JsonProgress.SCHEMA).put("device", r.device())
                    .put("passed", r.passed()).put("seconds", seconds);
            ArrayNode arr = root.putArray("checks");
            r.checks().forEach(c -> arr.addObject().put("name", c.name()).put("passed", c.passed())
                    .put("detail", c.detail()));
            System.out.println(root.toPrettyString());
        } else {
            System.out.println(r.passed()
                    ? String.format(Locale.ROOT, "selftest passed: %d checks on %s in %.1f s", r.checks().size(),
                            r.device(), seconds)
                    : String.format(Locale.ROOT, "selftest FAILED: %d of %d checks failed on %s", failed,
                            r.checks().size(), r.device()));
        }
        return r.passed() ? 0 : 1;
    }
}
