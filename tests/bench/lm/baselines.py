#!/usr/bin/env python3
"""Averaging and task arithmetic in a few lines of numpy, independent of the engine, on every tensor of a set of
fine-tunes (gentle, harsh or lora; an adapter counts as the dense fine-tune W0 + scaling (B A)^T):

    average:          W = (1/n) sum_i W_i
    task arithmetic:  W = W0 + lambda sum_i (W_i - W0)

    /usr/bin/python3 tests/bench/lm/baselines.py write WORKDIR SET OUTDIR [--scales 0.3,...]
        writes OUTDIR/numpy-average and OUTDIR/numpy-ta<lambda> (config.json + model.safetensors)
    /usr/bin/python3 tests/bench/lm/baselines.py check WORKDIR SET average|task-arithmetic FOLDER [--scale 0.3]
        compares the engine's output FOLDER with the float64 reference, tensor by tensor

The reference is computed in float64. The engine works in float32, so each element may differ by float32 rounding:
the check allows |engine - reference| <= c u S, u = 2^-24, S the sum of the magnitudes of every term that enters
the element (|W_i| / n for the average; |W0| + lambda sum_i (|W_i| + |W0|) for task arithmetic; for an adapter
|W_i| counts as |W0| + scaling (|B| |A|)^T), and c = 2 (n + r + 2), n the number of models and r the adapters'
rank (0 for full fine-tunes): a bound on the rounding of a float32 sum of that many terms with room to spare. Any
other difference (a tensor kept from the base, another scale, a transposed delta) is orders of magnitude above it."""
import argparse
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peft_lora  # noqa: E402
import safetensors_io  # noqa: E402

U = 2.0 ** -24


def fine_tunes(workdir, set_name):
    """The base's tensors (float64), and per domain the fine-tune's tensors and their magnitudes (float64)."""
    base = safetensors_io.read_model_folder(os.path.join(workdir, "base"))
    root = os.path.join(workdir, set_name)
    domains = sorted(d for d in os.listdir(root) if not d.endswith(".partial"))
    if not domains:
        raise SystemExit("%s: no fine-tunes" % root)
    models, magnitudes, rank = [], [], 0
    for d in domains:
        folder = os.path.join(root, d)
        if peft_lora.is_adapter(folder):
            deltas, _ = peft_lora.dense_deltas(folder, base)
            with open(os.path.join(folder, peft_lora.CONFIG)) as f:
                rank = max(rank, json.load(f)["r"])
            w = {k: v.astype(np.float64) + deltas.get(k, 0.0) for k, v in base.items()}
            mags = _lora_magnitudes(folder, base)
        else:
            w = {k: v.astype(np.float64) for k, v in safetensors_io.read_model_folder(folder).items()}
            mags = {k: np.abs(v) for k, v in w.items()}
        if set(w) != set(base):
            raise SystemExit("%s: tensors differ from the base's" % folder)
        models.append(w)
        magnitudes.append(mags)
    return {k: v.astype(np.float64) for k, v in base.items()}, domains, models, magnitudes, rank


def _lora_magnitudes(folder, base):
    """|W0| + scaling (|B| |A|)^T per adapted weight: the terms the engine sums to form W0 + scaling (B A)^T."""
    deltas, _ = peft_lora.dense_deltas(folder, base, magnitudes=True)
    return {k: np.abs(v.astype(np.float64)) + deltas.get(k, 0.0) for k, v in base.items()}


def average(base, models):
    return {k: sum(m[k] for m in models) / len(models) for k in base}


def task_arithmetic(base, models, lam):
    return {k: base[k] + lam * sum(m[k] - base[k] for m in models) for k in base}


def write_folder(workdir, tensors, folder):
    tmp = folder + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    shutil.copy(os.path.join(workdir, "base", "config.json"), tmp)
    safetensors_io.write(os.path.join(tmp, "model.safetensors"), {k: v.astype(np.float32) for k, v in tensors.items()})
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def write(a):
    base, _, models, _, _ = fine_tunes(a.workdir, a.set)
    write_folder(a.workdir, average(base, models), os.path.join(a.outdir, "numpy-average"))
    for s in a.scales.split(","):
        write_folder(a.workdir, task_arithmetic(base, models, float(s)), os.path.join(a.outdir, "numpy-ta" + s))
    print("baselines: %s/numpy-average, numpy-ta{%s} written" % (a.outdir, a.scales))


def check(a):
    base, domains, models, mags, rank = fine_tunes(a.workdir, a.set)
    n = len(models)
    if a.method == "average":
        ref = average(base, models)
        bound = {k: sum(m[k] for m in mags) / n for k in base}
    else:
        ref = task_arithmetic(base, models, a.scale)
        bound = {k: np.abs(base[k]) + a.scale * sum(m[k] + np.abs(base[k]) for m in mags) for k in base}
    got = safetensors_io.read_model_folder(a.folder)
    if set(got) != set(ref):
        raise SystemExit("check: %s has tensors %s, the reference %s" % (a.folder, sorted(set(got) ^ set(ref))[:5],
                                                                          "the others"))
    c = 2 * (n + rank + 2)
    worst, worst_name, max_abs, equal, total = 0.0, "", 0.0, 0, 0
    for k in ref:
        d = np.abs(got[k].astype(np.float64) - ref[k].astype(np.float32).astype(np.float64))
        ratio = float(np.max(d / np.maximum(U * bound[k], np.finfo(np.float64).tiny)))
        if ratio > worst:
            worst, worst_name = ratio, k
        max_abs = max(max_abs, float(d.max()))
        equal += int((d == 0).sum())
        total += d.size
    ok = worst <= c
    print("CHECK %s %s%s: %s; max |engine - numpy| %.3g, worst element at %.2f u S in %s (allowed %d u S); "
          "%.1f%% of %d elements bit-identical" % (a.set, a.method, "" if a.method == "average" else " x%g" % a.scale,
                                                  "agree" if ok else "DIFFER", max_abs, worst, worst_name or "-", c,
                                                  100.0 * equal / total, total))
    sys.exit(0 if ok else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("workdir")
    w.add_argument("set")
    w.add_argument("outdir")
    w.add_argument("--scales", default="0.3")
    c = sub.add_parser("check")
    c.add_argument("workdir")
    c.add_argument("set")
    c.add_argument("method", choices=["average", "task-arithmetic"])
    c.add_argument("folder")
    c.add_argument("--scale", type=float, default=0.3)
    a = p.parse_args()
    write(a) if a.cmd == "write" else check(a)


if __name__ == "__main__":
    main()
