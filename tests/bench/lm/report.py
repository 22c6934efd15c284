#!/usr/bin/env python3
"""Markdown tables of a scored WORKDIR (run.sh's scores/*.json, timings.tsv, scores/task_vectors.json) on stdout:

    /usr/bin/python3 tests/bench/lm/report.py WORKDIR > WORKDIR/scores.md

Losses are nats per byte on held-out text (lower is better); `$W` stands for WORKDIR in the commands."""
import argparse
import glob
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

SETS = ("gentle", "harsh", "lora", "lora-distinct", "lora-gentle")
MERGES = ("numpy-average", "wudi-average", "numpy-ta0.3", "wudi-ta0.3", "wudi-default", "wudi-spectral",
          "wudi-lr-auto", "sum-linear")


def load_scores(work):
    out = {}
    for p in glob.glob(os.path.join(work, "scores", "*.json")):
        with open(p) as f:
            s = json.load(f)
        if "label" in s:
            out[s["label"]] = s
    return out


def load_timings(work):
    """stage -> wall seconds of its latest run."""
    out = {}
    path = os.path.join(work, "timings.tsv")
    if os.path.isfile(path):
        for line in open(path):
            if line.strip() and not line.startswith("#"):
                name, secs = line.rstrip("\n").split("\t")
                out[name] = float(secs)
    return out


def row(label, s, domains, extra=()):
    return "| %s | %s | **%.4f** | %s" % (label, " | ".join("%.4f" % s["per_domain"][d] for d in domains),
                                          s["average"], "".join("%s | " % e for e in extra))


def short(cmd, work, set_name):
    """The command with WORKDIR as $W and the run of --model options of the set as $MODELS."""
    cmd = re.sub(r"(--model %s/%s/[^ ]+ ?)+" % (re.escape(work), set_name), "$MODELS ", cmd)
    return "`" + " ".join(cmd.replace(work, "$W").split()).replace("|", "\\|") + "`"     # \| keeps the table


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workdir")
    a = p.parse_args()
    work = os.path.abspath(a.workdir)
    scores, times = load_scores(work), load_timings(work)
    with open(os.path.join(work, "settings.json")) as f:
        st = json.load(f)
    with open(os.path.join(work, "data", "summary.json")) as f:
        data = json.load(f)
    domains = list(data["domains"])
    base = scores["base"]
    n_params = sum(v.size for v in safetensors_io.read_model_folder(os.path.join(work, "base")).values())
    m = st["model"]
    print("# Language-model benchmark (%s mode)\n" % st["mode"])
    print("GPT-2 (n_embd %d, n_layer %d, n_head %d, n_ctx %d, byte vocabulary 257, %d parameters, lm_head tied); "
          "%d domains; per domain %s pretraining, %s fine-tuning and %s test bytes from disjoint files; "
          "%d test windows of %d bytes per domain.\n"
          % (m["n_embd"], m["n_layer"], m["n_head"], m["n_ctx"], n_params, len(domains),
             "/".join(str(data["domains"][d]["pretrain"]["bytes"]) for d in domains),
             "/".join(str(data["domains"][d]["finetune"]["bytes"]) for d in domains),
             "/".join(str(data["domains"][d]["test"]["bytes"]) for d in domains), st["eval_windows"], m["n_ctx"]))
    if times:
        print("Wall times (s): " + ", ".join("%s %.0f" % kv for kv in times.items()) + ".\n")
    head = "| model | " + " | ".join(domains) + " | avg |"
    print("## Each fine-tune alone\n")
    print(head + " own domain vs base |")
    print("|---|" + "---:|" * (len(domains) + 2))
    print(row("base", base, domains, ["-"]))
    for s in SETS:
        for d in domains:
            lab = "%s/%s" % (s, d)
            if lab in scores:
                gain = scores[lab]["per_domain"][d] - base["per_domain"][d]
                print(row(lab, scores[lab], domains, ["%+.4f" % gain]))
    print()
    for s in SETS:
        print("## %s set\n" % s)
        print("`$MODELS` = `%s`\n" % " ".join("--model $W/%s/%s" % (s, d) for d in sorted(domains)))
        print(head + " merge wall (s) | command |")
        print("|---|" + "---:|" * (len(domains) + 2) + "---|")
        print(row("base (no merge)", base, domains, ["-", "-"]))
        others = sorted(l.split("/", 1)[1] for l in scores if l.startswith(s + "/"))
        others = [n for n in others if n not in MERGES and n not in domains]
        for name in list(MERGES) + others:               # run.sh's rows, then any merge.sh added
            lab = "%s/%s" % (s, name)
            if lab in scores:
                t = times.get(lab, times.get("%s/numpy" % s) if name.startswith("numpy") else None)
                print(row(name, scores[lab], domains, ["%.1f" % t if t is not None else "-",
                                                       short(scores[lab]["command"], work, s)]))
        for c in sorted(glob.glob(os.path.join(work, "scores", "%s__check-*.txt" % s))):
            print("\n" + open(c).read().strip())
        print()
    tv_path = os.path.join(work, "scores", "task_vectors.json")
    if os.path.isfile(tv_path):
        with open(tv_path) as f:
            tv = json.load(f)
        present = [s for s in SETS if s in tv]
        print("## ||tau|| / ||W0|| per tensor kind (mean over domains, min-max)\n")
        print("| tensor kind | " + " | ".join(present) + " |")
        print("|---|" + "---:|" * len(present))
        for k in tv[present[0]]["kinds"]:
            cells = []
            for s in present:
                r = [v[k] for v in tv[s]["ratio"].values()]
                cells.append("%.4f (%.4f-%.4f)" % (np.mean(r), min(r), max(r)))
            print("| %s | %s |" % (k, " | ".join(cells)))
        print("\nCosine between two domains' task vectors (all tensors), mean (min-max): " + "; ".join(
            "%s %.3f (%.3f-%.3f)" % (s, np.mean(list(tv[s]["cosine"].values())), min(tv[s]["cosine"].values()),
                                     max(tv[s]["cosine"].values())) for s in present) + ".")


if __name__ == "__main__":
    main()
