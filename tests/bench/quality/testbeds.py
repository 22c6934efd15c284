"""The three testbeds of the default study, each as: the engine's inputs, the task vectors, and a scorer.

    lm:        a set of tests/bench/lm's work folder (gentle, harsh, lora, lora-distinct, lora-gentle): nats per byte per domain
               (lower is better), scored by tests/bench/lm/eval.py's code in this process
    digits6:   tests/fixtures/digits6: accuracy (%) per task with the task's own head (higher is better), the
               fixture README's forward pass in numpy
    synthetic: `wudi demo`'s set at a task-vector scale, written and scored by SyntheticSets.java through the
               engine's jar (relative output error per task, lower is better)

Tensors are numpy float64 arrays keyed by the checkpoint's names, in the stored layout."""
import glob
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
LM_SCRIPTS = os.environ.get("LM_SCRIPTS", os.path.join(ROOT, "tests", "bench", "lm"))
sys.path.insert(0, LM_SCRIPTS)
import safetensors_io  # noqa: E402  (tests/bench/lm: safetensors by hand, numpy only)


def read(path):
    return {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in safetensors_io.read(path).items()}


class Testbed:
    """name, lower_is_better, base (tensors), models (tensors per task), task_names, engine_args (the --base and
    --model options), out_suffix (what --out names: a folder or a .safetensors file)."""

    def task_vectors(self, name):
        return [m[name] - self.base[name] for m in self.models]

    def average(self):
        return {k: sum(m[k] for m in self.models) / len(self.models) for k in self.base}

    def read_output(self, path):
        raise NotImplementedError

    def write(self, tensors, path):
        raise NotImplementedError

    def score(self, path):
        """task -> score of the merge written at path."""
        raise NotImplementedError


class LanguageModel(Testbed):
    lower_is_better = True
    out_suffix = ""

    def __init__(self, work, set_name):
        import baselines                      # tests/bench/lm: the fine-tunes as dense float64 tensors
        self.work, self.name = work, "lm-" + set_name
        self.base, self.task_names, self.models, _, _ = baselines.fine_tunes(work, set_name)
        self.engine_args = ["--base", os.path.join(work, "base")]
        for d in self.task_names:
            self.engine_args += ["--model", os.path.join(work, set_name, d)]
        self._scorer = None

    def read_output(self, path):
        return {k: v.astype(np.float64) for k, v in safetensors_io.read_model_folder(path).items()}

    def write(self, tensors, path):
        tmp = path + ".partial"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        shutil.copy(os.path.join(self.work, "base", "config.json"), tmp)
        safetensors_io.write(os.path.join(tmp, "model.safetensors"), {k: v.astype(np.float32) for k, v in tensors.items()})
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)

    def score(self, path):
        import torch
        import eval as lm_eval                # tests/bench/lm/eval.py: the benchmark's own windows and loss
        torch.set_num_threads(1)
        with open(os.path.join(self.work, "settings.json")) as f:
            st = json.load(f)
        model = lm_eval.load(path, os.path.join(self.work, "base"))
        return lm_eval.score(model, self.work, st["eval_windows"], st["model"]["n_ctx"])


class Digits6(Testbed):
    lower_is_better = False
    out_suffix = ".safetensors"

    def __init__(self, fixture):
        self.name, self.fixture = "digits6", fixture
        with open(os.path.join(fixture, "fixture.json")) as f:
            self.task_names = [t["name"] for t in json.load(f)["tasks"]]
        self.base = read(os.path.join(fixture, "base.safetensors"))
        paths = [os.path.join(fixture, "task_%s.safetensors" % t) for t in self.task_names]
        self.models = [read(p) for p in paths]
        self.engine_args = ["--base", os.path.join(fixture, "base.safetensors")]
        for p in paths:
            self.engine_args += ["--model", p]
        self.tests = read(os.path.join(fixture, "tests.safetensors"))
        self.heads = {t: read(os.path.join(fixture, "heads_%s.safetensors" % t)) for t in self.task_names}
        self.layers = sorted({k[:-len(".weight")] for k in self.base if k.endswith(".weight")},
                             key=lambda s: int("".join(ch for ch in s if ch.isdigit()) or 0))

    def read_output(self, path):
        return read(path)

    def write(self, tensors, path):
        safetensors_io.write(path, {k: v.astype(np.float32) for k, v in tensors.items()})

    def score(self, path):
        w = read(path)
        erf = np.vectorize(math.erf)
        out = {}
        for t in self.task_names:
            h = self.tests["X_" + t]
            for layer in self.layers:           # h = gelu(h W^T + b) after every layer (exact GELU)
                z = h @ w[layer + ".weight"].T + w[layer + ".bias"]
                h = 0.5 * z * (1.0 + erf(z / math.sqrt(2.0)))
            logits = h @ self.heads[t]["head.weight"].T + self.heads[t]["head.bias"]
            out[t] = 100.0 * float(np.mean(np.argmax(logits, axis=1) == self.tests["y_" + t]))
        return out


def jar():
    found = sorted(glob.glob(os.path.join(ROOT, "merge-runner", "target", "wudi-merge-runner-*-all.jar")))
    if not found:
        raise SystemExit("no engine jar under merge-runner/target; run ./wudi --version once to build it")
    return found[0]


class Synthetic(Testbed):
    """`wudi demo`'s set at one task-vector scale, written once into work/synthetic-xS by SyntheticSets.java."""
    lower_is_better = True
    out_suffix = ".safetensors"

    def __init__(self, work, scale):
        self.name, self.scale = "synthetic-x%g" % scale, scale
        self.dir = os.path.join(work, "sets", self.name)
        if not os.path.isfile(os.path.join(self.dir, "base.safetensors")):
            os.makedirs(self.dir, exist_ok=True)
            _synthetic("write", str(scale), self.dir)
        self.base = read(os.path.join(self.dir, "base.safetensors"))
        paths = sorted(glob.glob(os.path.join(self.dir, "task*.safetensors")))
        self.task_names = [os.path.basename(p)[:-len(".safetensors")] for p in paths]
        self.models = [read(p) for p in paths]
        self.engine_args = ["--base", os.path.join(self.dir, "base.safetensors")]
        for p in paths:
            self.engine_args += ["--model", p]

    def read_output(self, path):
        return read(path)

    def write(self, tensors, path):
        safetensors_io.write(path, {k: v.astype(np.float32) for k, v in tensors.items()})

    def score(self, path):
        errs = [float(x) for x in _synthetic("score", str(self.scale), path).split()]
        return dict(zip(self.task_names, errs))


def _synthetic(*args):
    cmd = ["java", "-cp", jar(), os.path.join(HERE, "SyntheticSets.java")] + list(args)
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
