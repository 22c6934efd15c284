package dev.wudi.api;

/**
 * Whether one device can run WUDI here, and why not.
 *
 * @param name        the name {@link CheckpointMerge.Builder#device} and {@link LayerMerge#open} take: "cpu",
 *                    "cuda:0", ...
 * @param usable      it can be used now
 * @param description what it is ("cpu (8 threads, OpenBLAS ...)", "cuda:0 NVIDIA H200 ..."), or what was looked for
 * @param whyNot      one line with the cause and the fix when not usable; "" when usable
 */
public record DeviceStatus(String name, boolean usable, String description, String whyNot) {
}
