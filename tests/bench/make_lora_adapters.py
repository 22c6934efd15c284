#!/usr/bin/env python3
"""Writes synthetic PEFT LoRA adapter folders (adapter_config.json + adapter_model.safetensors, F32) for benchmarks
at shapes no real adapter in ../shared/fixtures has, e.g. one layer of a 7B decoder:

    python3 tests/bench/make_lora_adapters.py /tmp/lora7b --count 3 --rank 16 \
        --module model.layers.0.self_attn.q_proj=4096x4096 --module model.layers.0.mlp.down_proj=4096x11008

Each adapter k gets lora_A ~ N(0, 1/in) and lora_B ~ N(0, 0.01), seeded by (k, module), lora_alpha = 2 r.
Needs numpy only (the safetensors header is written by hand, lm/safetensors_io.py)."""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lm"))
from safetensors_io import write as write_safetensors  # noqa: E402  (F32, the header written by hand)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--module", action="append", required=True, help="NAME=OUTxIN (nn.Linear [out, in])")
    a = p.parse_args()
    modules = []
    for m in a.module:
        name, shape = m.split("=")
        out_dim, in_dim = (int(x) for x in shape.lower().split("x"))
        modules.append((name, out_dim, in_dim))
    for k in range(1, a.count + 1):
        d = os.path.join(a.out, "adapter-%d" % k)
        os.makedirs(d, exist_ok=True)
        tensors = {}
        for i, (name, out_dim, in_dim) in enumerate(modules):
            rng = np.random.default_rng(1000 * k + i)
            tensors["base_model.model.%s.lora_A.weight" % name] = rng.normal(0, in_dim ** -0.5, (a.rank, in_dim))
            tensors["base_model.model.%s.lora_B.weight" % name] = rng.normal(0, 0.01, (out_dim, a.rank))
        write_safetensors(os.path.join(d, "adapter_model.safetensors"), tensors)
        cfg = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": a.rank, "lora_alpha": 2 * a.rank,
               "target_modules": sorted({n.rsplit(".", 1)[-1] for n, _, _ in modules}), "fan_in_fan_out": False,
               "bias": "none", "use_rslora": False, "use_dora": False, "base_model_name_or_path": "synthetic"}
        with open(os.path.join(d, "adapter_config.json"), "w") as f:
            json.dump(cfg, f, indent=2)


if __name__ == "__main__":
    main()
