#!/usr/bin/env python3
"""Scores a model on every domain's held-out test text: mean loss in nats per byte, per domain and averaged over the
domains (lower is better).

    /usr/bin/python3 tests/bench/lm/eval.py WORKDIR FOLDER [--base BASE] [--label NAME] [--command CMD] [--json OUT]

FOLDER is a GPT-2 folder (config.json + model.safetensors, or shards with model.safetensors.index.json; F32, F16 or
BF16), or a PEFT LoRA adapter folder, scored as the dense model PEFT's merge_and_unload gives on --base (default
WORKDIR/base). The windows are fixed: the first `eval_windows` (settings.json) runs of n_ctx + 1 tokens of each
domain's test stream, back to back, each predicting its last n_ctx tokens from within the window; end-of-text
targets between files are left out, so the mean is over bytes. One line goes to stdout:

    EVAL label avg=1.2345 python=1.1111 c_headers=...

and with --json the scores, the folder and the command that made it."""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
import gpt2  # noqa: E402
import peft_lora  # noqa: E402
import safetensors_io  # noqa: E402


def windows(stream, n, ctx):
    """The first n windows of ctx + 1 tokens, consecutive windows sharing one token (each byte predicted once)."""
    if len(stream) < n * ctx + 1:
        raise SystemExit("test stream of %d tokens is too short for %d windows of %d" % (len(stream), n, ctx))
    return torch.from_numpy(np.stack([stream[i * ctx:i * ctx + ctx + 1] for i in range(n)]))


def load(folder, base_dir):
    if peft_lora.is_adapter(folder):
        cfg = gpt2.read_config(base_dir)
        tensors = peft_lora.apply(folder, safetensors_io.read_model_folder(base_dir))
    else:
        cfg = gpt2.read_config(folder)
        tensors = safetensors_io.read_model_folder(folder)
    model = gpt2.GPT2(cfg)
    model.load_weights(tensors, folder)
    return model


def score(model, workdir, n_windows, ctx, batch=16):
    """domain -> mean nats per byte over the domain's fixed windows."""
    out = {}
    with torch.no_grad():
        for domain, stream in corpus.load(workdir, "test").items():
            w = windows(stream, n_windows, ctx)
            total, count = 0.0, 0
            for i in range(0, len(w), batch):
                x, y = w[i:i + batch, :-1], w[i:i + batch, 1:]
                n = int((y != gpt2.EOT).sum())
                total += model.loss(x, y, ignore_eot=True).item() * n
                count += n
            out[domain] = total / count
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workdir")
    p.add_argument("folder")
    p.add_argument("--base", help="the base model folder for an adapter (default: WORKDIR/base)")
    p.add_argument("--label", help="the row's name (default: the folder's path under WORKDIR)")
    p.add_argument("--command", default="", help="the command that made FOLDER, kept in the JSON")
    p.add_argument("--json", help="write the scores here")
    a = p.parse_args()
    torch.set_num_threads(1)
    with open(os.path.join(a.workdir, "settings.json")) as f:
        st = json.load(f)
    t0 = time.time()
    model = load(a.folder, a.base or os.path.join(a.workdir, "base"))
    if model.cfg["n_positions"] < st["model"]["n_ctx"]:
        raise SystemExit("%s: n_positions %d is below the benchmark's n_ctx %d"
                         % (a.folder, model.cfg["n_positions"], st["model"]["n_ctx"]))
    per_domain = score(model, a.workdir, st["eval_windows"], st["model"]["n_ctx"])
    avg = float(np.mean(list(per_domain.values())))
    label = a.label or os.path.relpath(a.folder, a.workdir)
    print("EVAL %s avg=%.4f %s" % (label, avg, " ".join("%s=%.4f" % kv for kv in per_domain.items())), flush=True)
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump({"label": label, "folder": os.path.abspath(a.folder), "command": a.command,
                       "per_domain": per_domain, "average": avg, "windows": st["eval_windows"],
                       "n_ctx": st["model"]["n_ctx"], "seconds": round(time.time() - t0, 1)}, f, indent=1)


if __name__ == "__main__":
    main()
