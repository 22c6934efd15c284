/**
 * Where WUDI runs: the backend interface the solvers run on (the CPU reference, CUDA), what each backend offers, and
 * where each tensor goes.
 *
 * <ul>
 *   <li>{@link dev.wudi.backend.Backend} and {@link dev.wudi.backend.WudiProblem}: one weight's problem, task vectors
 *   in, a solver out; and the solve on LoRA factors. Every backend is tested against the CPU's
 *   ({@code BackendParityTest}).</li>
 *   <li>{@link dev.wudi.backend.Capability}: what a backend offers beyond Adam on float arrays, declared once in
 *   {@link dev.wudi.backend.Backend#capabilities()}; callers read that set, never a type.</li>
 *   <li>{@link dev.wudi.backend.Backends}: which devices {@code --device} opens ({@code auto} falls back to the CPU
 *   with one line); {@link dev.wudi.backend.DeviceSet} for several.</li>
 *   <li>{@link dev.wudi.backend.Placement}: everything decided after that, in one place. Given the devices, the
 *   solver, and per tensor what happened to it (LoRA factors, device memory exhausted, every device failed), one
 *   backend and one note for the user: the CPU where the devices lack what the work needs.</li>
 * </ul>
 *
 * <p>Internal: not part of the library's API, which is {@code dev.wudi.api}; this package may change in any
 * release.
 */
package dev.wudi.backend;
