#!/usr/bin/env python3
"""Synthetic checkpoints shaped like one 7B down_proj ([4096, 11008], bf16): a base and N fine-tunes (base plus a
task vector of RMS 1e-3), for the solver benchmarks of docs/benchmarks.md (issue: solvers at scale).

    python3 tests/bench/make_llm_layer.py OUT_DIR [N=3] [ROWS=4096] [COLS=11008]
"""
import json
import struct
import sys

import numpy as np


def bf16(a):
    bits = a.astype(np.float32).view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16      # round to nearest even
    return rounded.astype(np.uint16)


def write(path, name, values, rows, cols):
    header = json.dumps({name: {"dtype": "BF16", "shape": [rows, cols], "data_offsets": [0, rows * cols * 2]}})
    header = header.encode() + b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        f.write(bf16(values).tobytes())


def main(argv):
    out = argv[0]
    n = int(argv[1]) if len(argv) > 1 else 3
    rows = int(argv[2]) if len(argv) > 2 else 4096
    cols = int(argv[3]) if len(argv) > 3 else 11008
    name = "model.layers.0.mlp.down_proj.weight"
    rng = np.random.default_rng(0)
    base = (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02)
    write(f"{out}/base.safetensors", name, base, rows, cols)
    for i in range(n):
        tau = rng.standard_normal((rows, cols), dtype=np.float32) * 1e-3
        write(f"{out}/task{i}.safetensors", name, base + tau, rows, cols)


if __name__ == "__main__":
    main(sys.argv[1:])
