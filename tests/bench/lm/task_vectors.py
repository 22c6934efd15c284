#!/usr/bin/env python3
"""How large the fine-tunes are next to the base, and how much they overlap: per set (gentle, harsh, lora) and per
tensor kind (the name with its layer index as {i}), ||tau|| / ||W0|| over the kind's tensors, tau_i = W_i - W0,
for each domain; and the cosine between the task vectors of two domains, over all tensors, for each pair.

    /usr/bin/python3 tests/bench/lm/task_vectors.py WORKDIR [--json OUT]"""
import argparse
import itertools
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baselines import fine_tunes  # noqa: E402

SETS = ("gentle", "harsh", "lora", "lora-distinct", "lora-gentle")


def kind(name):
    return re.sub(r"^h\.\d+\.", "h.{i}.", name)


def stats(workdir, set_name):
    base, domains, models, _, _ = fine_tunes(workdir, set_name)
    kinds = sorted({kind(k) for k in base}, key=lambda k: list(map(kind, base)).index(k))
    w0 = {c: sum(float(np.sum(base[k] ** 2)) for k in base if kind(k) == c) for c in kinds}
    ratio = {}
    for d, m in zip(domains, models):
        tau2 = {c: 0.0 for c in kinds}
        for k in base:
            tau2[kind(k)] += float(np.sum((m[k] - base[k]) ** 2))
        tau2["all"] = sum(tau2.values())
        ratio[d] = {c: (tau2[c] / (w0[c] if c != "all" else sum(w0.values()))) ** 0.5 for c in tau2}
    flat = [np.concatenate([(m[k] - base[k]).ravel() for k in base]) for m in models]
    cos = {"%s/%s" % (domains[i], domains[j]): float(flat[i] @ flat[j] / (np.linalg.norm(flat[i]) *
                                                                            np.linalg.norm(flat[j])))
           for i, j in itertools.combinations(range(len(domains)), 2)}
    return {"kinds": kinds + ["all"], "ratio": ratio, "cosine": cos}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workdir")
    p.add_argument("--json")
    a = p.parse_args()
    out = {s: stats(a.workdir, s) for s in SETS if os.path.isdir(os.path.join(a.workdir, s))}
    for s, st in out.items():
        mean = {c: np.mean([r[c] for r in st["ratio"].values()]) for c in st["kinds"]}
        print("TAU %s ||tau||/||W0|| all=%.4f  c_attn=%.4f  mlp.c_fc=%.4f  wte=%.4f; mean cosine between domains %.3f"
              % (s, mean["all"], mean["h.{i}.attn.c_attn.weight"], mean["h.{i}.mlp.c_fc.weight"], mean["wte.weight"],
                 np.mean(list(st["cosine"].values()))))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
