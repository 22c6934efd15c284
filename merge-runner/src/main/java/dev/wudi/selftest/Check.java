package dev.wudi.selftest;

/**
 * One line of `wudi selftest`: what was checked, whether it passed, and the figure or deviation behind the verdict.
 *
 * @param name   what was checked ("kernel fused_adam n=1048578", "merge bf16 cuda vs cpu", ...)
 * @param passed the check passed
 * @param detail the measured figure against its bound, or why it failed
 */
public record Check(String name, boolean passed, String detail) {

    static Check pass(String name, String detail) {
        return new Check(name, true, detail);
    }

    static Check fail(String name, String detail) {
        return new Check(name, false, detail);
    }

    /** "PASS  name: detail" / "FAIL  name: detail". */
    public String line() {
        return (passed ? "PASS  " : "FAIL  ") + name + ": " + detail;
    }
}
