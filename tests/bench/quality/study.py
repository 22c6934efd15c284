#!/usr/bin/env python3
"""The default study: which data-free WUDI-family rule merges best on every testbed (docs/quality.md).

    study.py run lm WORKDIR OUT [--sets gentle,harsh,lora,lora-distinct,lora-gentle] [--only REGEX]
    study.py run digits6 FIXTURE OUT [--only REGEX]
    study.py run synthetic OUT [--scales 0.1,1,10] [--only REGEX]
    study.py tables OUT                  # the markdown tables of every scored row, and the regret summary

Each row is one of:
  engine  `./wudi merge` of the testbed with the row's options (the command is kept with the score)
  numpy   averaging or task arithmetic x lambda on every tensor
  rule    an engine row's merged task vector times a data-free coefficient (rules.py) on the tensors the solver
          computed, every other tensor the average of the models (",rest-base": the base's)
  solver  solvers.py's spectral solve (numpy) on the tensors the engine's spectral row computed, from the sum or
          from the mean of the task vectors, every other tensor the average of the models
  spectrum  spectra.py's Iso-C or TSV-M at the average's norm on the same tensors, every other tensor the average
Merges go to OUT/TESTBED/ROW, scores to OUT/scores/TESTBED__ROW.json; a row whose score exists is skipped
(--redo to redo it). --only REGEX runs only the rows whose name it finds. WORKDIR is a work folder built by
tests/bench/lm/run.sh; the language-model scorer runs on one torch thread with LM_BLAS first on the library path,
as tests/bench/lm/lib.sh does."""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rules  # noqa: E402
import solvers  # noqa: E402
import spectra  # noqa: E402
import testbeds  # noqa: E402

WUDI = os.path.join(testbeds.ROOT, "wudi")
SOLVERS = {  # the engine's WUDI rows at scale 1 with the base's rest, whose tau_m the rules rescale
    "wudi-adam": ["--solver", "adam"],
    "wudi-spectral": ["--solver", "spectral"],
    "wudi-exact": ["--solver", "exact"],
    "wudi-adam-lr-auto": ["--lr", "auto"],
}
ENGINE_EXTRA = {
    "wudi-default": [],                           # the engine's default merge, no option
    "wudi-flow": ["--solver", "flow"],
    "wudi-spectral-tikhonov": ["--solver", "spectral", "--filter", "tikhonov"],
    "wudi-spectral-landweber": ["--solver", "spectral", "--filter", "landweber"],
    "wudi-spectral-cutoff0.01": ["--solver", "spectral", "--cutoff", "0.01"],
    "wudi-spectral-cutoff1": ["--solver", "spectral", "--cutoff", "1"],
    "wudi-spectral-rank16": ["--solver", "spectral", "--rank", "16"],
    "wudi-spectral-rest-average": ["--solver", "spectral", "--rest", "average"],
    "wudi-adam-rest-average": ["--rest", "average"],
    "ties": ["--method", "ties"],
    "dare-ties": ["--method", "dare-ties"],
    "model-stock": ["--method", "model-stock"],
}
LM_ONLY = {  # WUDI on the embeddings too (wte is tied to lm_head)
    "wudi-spectral-embeddings": ["--solver", "spectral", "--include", r"(c_attn|c_proj|c_fc)\.weight|wte|wpe"],
}
NUMPY_SOLVERS = {  # (start, filter, cutoff fraction)
    "np-flow-mean": ("mean", "exponential", 0.1),
    "np-flow-mean-cutoff0.01": ("mean", "exponential", 0.01),
    "np-flow-mean-cutoff1": ("mean", "exponential", 1.0),
    "np-tikhonov-mean": ("mean", "tikhonov", 0.1),
}
TA_LAMBDAS = [0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0]
RULES = ["x0.5", "x0.3", "inv-n", "norm", "proj", "sqrt-norm", "neff", "norm-global", "proj-global"]


def rows(testbed):
    """(name, kind, what) in run order: the deciding rows first."""
    out = [("base", "numpy", 0.0), ("average", "numpy", None), ("ta0.3", "numpy", 0.3)]
    out += [(name, "engine", opts) for name, opts in SOLVERS.items()]
    for solver in SOLVERS:
        out += [("%s@%s" % (solver, r), "rule", (solver, r, "average")) for r in RULES]
        out.append(("%s@norm,rest-base" % solver, "rule", (solver, "norm", "base")))
    out += [(name, "solver", what) for name, what in NUMPY_SOLVERS.items()]
    out += [(name, "spectrum", merge) for name, merge in spectra.MERGES.items()]
    out += [("ta%g" % lam, "numpy", lam) for lam in TA_LAMBDAS if lam != 0.3]
    extra = dict(ENGINE_EXTRA, **(LM_ONLY if isinstance(testbed, testbeds.LanguageModel) else {}))
    out += [(name, "engine", opts) for name, opts in extra.items()]
    return out


def engine(tb, name, opts, out):
    path = os.path.join(out, tb.name, name + tb.out_suffix)
    report = os.path.join(out, tb.name, name + ".report.json")
    cmd = ["merge"] + tb.engine_args + opts + ["--out", path]
    t0 = time.time()
    subprocess.run([WUDI] + cmd + ["--force", "--quiet", "--threads", "1", "--report", report], check=True)
    return path, {"command": "./wudi " + " ".join(_quote(a) for a in cmd), "merge_seconds": round(time.time() - t0, 2)}


def _quote(a):
    return a if re.match(r"^[A-Za-z0-9_./:=,+@%-]+$", a) else "'" + a.replace("'", "'\\''") + "'"


def solver_tensors(tb, out, solver):
    """The engine row's output and the names and layouts of the tensors its solver computed (from its report)."""
    with open(os.path.join(out, tb.name, solver + ".report.json")) as f:
        rep = json.load(f)
    merged = tb.read_output(os.path.join(out, tb.name, solver + tb.out_suffix))
    return merged, {t["name"]: t["layout"] for t in rep["tensors"] if t["method"] == "wudi"}


def oriented(a, layout):
    return a.T if layout == "in-out" else a


def rule_merge(tb, out, solver, rule, rest):
    merged, taken = solver_tensors(tb, out, solver)
    per_tensor = {k: rules.stats(tb.task_vectors(k), merged[k] - tb.base[k]) for k in taken}
    cs = rules.coefficients(rule, per_tensor)
    avg = tb.average() if rest == "average" else tb.base
    tensors = {k: (tb.base[k] + cs[k] * (merged[k] - tb.base[k]) if k in taken else avg[k]) for k in tb.base}
    c = np.array(list(cs.values()))
    info = {"command": "study.py: W0 + c tau_m of row %s, c = %s per rules.py; other tensors: %s"
                       % (solver, rule, "the models' average" if rest == "average" else "the base's"),
            "c": {"min": float(c.min()), "median": float(np.median(c)), "max": float(c.max())},
            "c_per_tensor": cs}
    return tensors, info


def on_spectral_tensors(tb, out, merge):
    """W0 + merge(task vectors) on the tensors the engine's spectral row computed (oriented [out, in]), every other
    tensor the models' average."""
    _, taken = solver_tensors(tb, out, "wudi-spectral")
    tensors = tb.average()
    for k, layout in taken.items():
        tensors[k] = tb.base[k] + oriented(merge([oriented(t, layout) for t in tb.task_vectors(k)]), layout)
    return tensors


def solver_merge(tb, out, start, kind, cutoff):
    tensors = on_spectral_tensors(tb, out, lambda taus: solvers.solve(taus, start, kind, cutoff))
    return tensors, {"command": "study.py: solvers.py %s filter, cutoff %g, from the %s of the task vectors, on "
                                "the tensors of row wudi-spectral; other tensors: the models' average"
                                % (kind, cutoff, start)}


def spectrum_merge(tb, out, name, merge):
    return on_spectral_tensors(tb, out, merge), {"command": "study.py: spectra.py %s on the tensors of row wudi-spectral, scaled to the norm "
                                "of the task vectors' mean; other tensors: the models' average" % name}


def signals(tb, out, solver):
    """Per merge: the data-free signals a guard could read (overlap of the task vectors, the solver's loss
    reduction, the norm rule's c), for the predictor table."""
    merged, taken = solver_tensors(tb, out, solver)
    with open(os.path.join(out, tb.name, solver + ".report.json")) as f:
        rep = json.load(f)
    per = {}
    for k, layout in taken.items():
        taus = [oriented(t, layout) for t in tb.task_vectors(k)]
        s = rules.stats(taus, oriented(merged[k] - tb.base[k], layout))
        per[k] = dict(rules.overlap(taus), c_norm=rules.coefficient("norm", s), c_neff=rules.coefficient("neff", s))
    loss = rep["totals"]
    return {"per_tensor": per, "loss_before": loss.get("loss_before"), "loss_after": loss.get("loss_after")}


def run(tb, out, only, redo):
    os.makedirs(os.path.join(out, tb.name), exist_ok=True)
    os.makedirs(os.path.join(out, "scores"), exist_ok=True)
    for name, kind, what in rows(tb):
        if only and not re.search(only, name):
            continue
        dest = os.path.join(out, "scores", "%s__%s.json" % (tb.name, name))
        if os.path.isfile(dest) and not redo:
            continue
        t0 = time.time()
        if kind == "engine":
            path, info = engine(tb, name, what, out)
            if name in SOLVERS:
                with open(os.path.join(out, "scores", "%s__%s.signals.json" % (tb.name, name)), "w") as f:
                    json.dump(signals(tb, out, name), f, indent=1)
        else:
            if kind == "numpy":
                lam = what
                tensors = tb.average() if lam is None else {
                    k: tb.base[k] + lam * sum(t for t in tb.task_vectors(k)) for k in tb.base}
                info = {"command": "study.py: " + ("the models' mean, every tensor" if lam is None
                                                  else "the base, unmerged" if lam == 0
                                                  else "W0 + %g sum_i tau_i, every tensor" % lam)}
            elif kind == "solver":
                tensors, info = solver_merge(tb, out, *what)
            elif kind == "spectrum":
                tensors, info = spectrum_merge(tb, out, name, what)
            else:
                tensors, info = rule_merge(tb, out, *what)
            path = os.path.join(out, tb.name, name.replace("/", "_") + tb.out_suffix)
            tb.write(tensors, path)
        per_task = tb.score(path)
        avg = float(np.mean(list(per_task.values())))
        rec = dict(testbed=tb.name, row=name, kind=kind, per_task=per_task, average=avg, path=path,
                   seconds=round(time.time() - t0, 1), **info)
        with open(dest, "w") as f:
            json.dump(rec, f, indent=1)
        print("%-14s %-34s %.4f  (%.0f s)" % (tb.name, name, avg, time.time() - t0), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("testbed", choices=["lm", "digits6", "synthetic"])
    r.add_argument("args", nargs="+", help="lm: WORKDIR OUT; digits6: FIXTURE OUT; synthetic: OUT")
    r.add_argument("--sets", default="gentle,harsh,lora,lora-distinct,lora-gentle")
    r.add_argument("--scales", default="0.1,1,10")
    r.add_argument("--only")
    r.add_argument("--redo", action="store_true")
    t = sub.add_parser("tables")
    t.add_argument("out")
    a = p.parse_args()
    if a.cmd == "tables":
        import tables
        tables.main(a.out)
        return
    if a.testbed == "lm":
        work, out = a.args
        _blas_first()
        for s in a.sets.split(","):
            if os.path.isdir(os.path.join(work, s)):
                run(testbeds.LanguageModel(work, s), out, a.only, a.redo)
    elif a.testbed == "digits6":
        fixture, out = a.args
        run(testbeds.Digits6(fixture), out, a.only, a.redo)
    else:
        (out,) = a.args
        for s in a.scales.split(","):
            run(testbeds.Synthetic(out, float(s)), out, a.only, a.redo)


def _blas_first():
    """Re-runs this process with LM_BLAS first on the library path and one BLAS thread (tests/bench/lm/lib.sh)."""
    blas = os.environ.get("LM_BLAS")
    if blas and os.environ.get("STUDY_BLAS_SET") != "1":
        env = dict(os.environ, STUDY_BLAS_SET="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", LD_LIBRARY_PATH=blas + (":" + os.environ["LD_LIBRARY_PATH"]
                                                                if os.environ.get("LD_LIBRARY_PATH") else ""))
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


if __name__ == "__main__":
    main()
