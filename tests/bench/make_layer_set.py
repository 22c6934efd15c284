#!/usr/bin/env python3
"""Synthetic checkpoints of several BERT-base-shaped linear weights (bf16): 6 x [768, 768], 3 x [3072, 768] and
3 x [768, 3072], a base and N fine-tunes (base plus task vectors of RMS 1e-3), for the distributed-merge overhead
benchmark of docs/benchmarks.md (issue: beyond one device).

    python3 tests/bench/make_layer_set.py OUT_DIR [N=3]
"""
import json
import struct
import sys

import numpy as np

SHAPES = [(768, 768)] * 6 + [(3072, 768)] * 3 + [(768, 3072)] * 3


def bf16(a):
    bits = a.astype(np.float32).view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16      # round to nearest even
    return rounded.astype(np.uint16)


def write(path, tensors):
    header, offset = {}, 0
    for name, v in tensors:
        header[name] = {"dtype": "BF16", "shape": list(v.shape), "data_offsets": [offset, offset + v.size * 2]}
        offset += v.size * 2
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, v in tensors:
            f.write(bf16(v).tobytes())


def main(argv):
    out = argv[0]
    n = int(argv[1]) if len(argv) > 1 else 3
    import os
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    base = [(f"layer.{i}.weight", rng.standard_normal(s, dtype=np.float32) * 0.02) for i, s in enumerate(SHAPES)]
    write(f"{out}/base.safetensors", base)
    for t in range(n):
        r = np.random.default_rng(1 + t)
        write(f"{out}/task{t}.safetensors",
              [(name, v + r.standard_normal(v.shape, dtype=np.float32) * 1e-3) for name, v in base])


if __name__ == "__main__":
    main(sys.argv[1:])
