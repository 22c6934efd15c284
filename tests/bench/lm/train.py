#!/usr/bin/env python3
"""Builds the benchmark's weights in WORKDIR: the data split, a GPT-2 pretrained on the mix of every domain, and per
domain a gentle full fine-tune, a harsh one (10x the lr, more steps) and a PEFT LoRA adapter:

    /usr/bin/python3 tests/bench/lm/train.py WORKDIR [--quick] [--lora-distinct] [--lora-gentle]

WORKDIR/settings.json   every setting below, as used (eval.py reads the model and evaluation ones)
WORKDIR/data/           the file-level split (corpus.py)
WORKDIR/base/           model.safetensors + config.json
WORKDIR/gentle/DOMAIN/  model.safetensors + config.json
WORKDIR/harsh/DOMAIN/   model.safetensors + config.json
WORKDIR/lora/DOMAIN/    adapter_config.json + adapter_model.safetensors
WORKDIR/lora-distinct/DOMAIN/  with --lora-distinct only: the same adapters, each with its own lora_A initialisation
WORKDIR/lora-gentle/DOMAIN/    with --lora-gentle only: adapters trained gently (a tenth of the lr, half the steps),
                               from the lora set's shared lora_A draw
WORKDIR/logs/*.json     loss curves and wall times

One torch thread, so that a core stays free. Every folder is written under a temporary name and renamed when
complete, and skipped when present: an interrupted run continues where it stopped. Fine-tunes and adapters train
on their domain's fine-tuning files, which the pretraining never saw."""
import argparse
import json
import math
import os
import shutil
import sys
import time
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
import gpt2  # noqa: E402
import peft_lora  # noqa: E402

SETTINGS = {
    "full": {
        "model": {"n_embd": 192, "n_layer": 4, "n_head": 6, "n_ctx": 256},
        # bytes wanted and per-file cap, per domain; filled in this order (corpus.split)
        "data": {"seed": 0, "test": [65536, 4096], "finetune": [1500000, 32768], "pretrain": [4000000, 32768]},
        "eval_windows": 256,
        "pretrain": {"steps": 3000, "batch": 16, "lr": 2e-3, "warmup": 200, "final_lr": 0.1, "betas": [0.9, 0.95],
                     "weight_decay": 0.1, "seed": 1},
        "gentle": {"steps": 150, "batch": 16, "lr": 5e-5, "warmup": 15, "final_lr": 0.1, "betas": [0.9, 0.999],
                   "weight_decay": 0.0, "seed": 2},
        "harsh": {"steps": 300, "batch": 16, "lr": 5e-4, "warmup": 15, "final_lr": 0.1, "betas": [0.9, 0.999],
                  "weight_decay": 0.0, "seed": 3},
        "lora": {"steps": 250, "batch": 16, "lr": 2e-3, "warmup": 15, "final_lr": 0.1, "betas": [0.9, 0.999],
                 "weight_decay": 0.0, "seed": 4, "r": 8, "alpha": 16, "targets": ["c_attn", "c_proj", "c_fc"]},
        "lora-gentle": {"steps": 125, "batch": 16, "lr": 2e-4, "warmup": 15, "final_lr": 0.1, "betas": [0.9, 0.999],
                        "weight_decay": 0.0, "seed": 4, "r": 8, "alpha": 16, "targets": ["c_attn", "c_proj", "c_fc"]},
    },
    "quick": {
        "model": {"n_embd": 64, "n_layer": 2, "n_head": 2, "n_ctx": 64},
        "data": {"seed": 0, "test": [8192, 2048], "finetune": [65536, 8192], "pretrain": [262144, 8192]},
        "eval_windows": 64,
        "pretrain": {"steps": 300, "batch": 16, "lr": 3e-3, "warmup": 30, "final_lr": 0.1, "betas": [0.9, 0.95],
                     "weight_decay": 0.1, "seed": 1},
        "gentle": {"steps": 20, "batch": 16, "lr": 1e-4, "warmup": 2, "final_lr": 0.1, "betas": [0.9, 0.999],
                   "weight_decay": 0.0, "seed": 2},
        "harsh": {"steps": 40, "batch": 16, "lr": 1e-3, "warmup": 2, "final_lr": 0.1, "betas": [0.9, 0.999],
                  "weight_decay": 0.0, "seed": 3},
        "lora": {"steps": 40, "batch": 16, "lr": 3e-3, "warmup": 2, "final_lr": 0.1, "betas": [0.9, 0.999],
                 "weight_decay": 0.0, "seed": 4, "r": 4, "alpha": 8, "targets": ["c_attn", "c_proj", "c_fc"]},
        "lora-gentle": {"steps": 20, "batch": 16, "lr": 3e-4, "warmup": 2, "final_lr": 0.1, "betas": [0.9, 0.999],
                        "weight_decay": 0.0, "seed": 4, "r": 4, "alpha": 8, "targets": ["c_attn", "c_proj", "c_fc"]},
    },
}
OPTIONAL = ("lora-gentle",)  # settings of sets trained only on request, added to an existing WORKDIR's settings


def settings_for(workdir, mode):
    """The mode's settings, written once; a WORKDIR built with other settings is refused rather than mixed. An
    optional set's settings that the WORKDIR lacks (built before the set existed) are added to it."""
    want = dict(SETTINGS[mode], mode=mode)
    path = os.path.join(workdir, "settings.json")
    if os.path.isfile(path):
        with open(path) as f:
            have = json.load(f)
        grown = dict(have, **{k: want[k] for k in OPTIONAL if k not in have})
        if grown != json.loads(json.dumps(want)):
            raise SystemExit("%s: was built with other settings (mode %s); use another WORKDIR or delete it"
                             % (path, have.get("mode")))
        if grown != have:
            with open(path, "w") as f:
                json.dump(want, f, indent=2)
    else:
        os.makedirs(workdir, exist_ok=True)
        with open(path, "w") as f:
            json.dump(want, f, indent=2)
    return want


def lr_at(step, s):
    """Linear warmup, then cosine decay to final_lr x lr."""
    if step < s["warmup"]:
        return s["lr"] * (step + 1) / s["warmup"]
    p = (step - s["warmup"]) / max(1, s["steps"] - s["warmup"])
    return s["lr"] * (s["final_lr"] + (1 - s["final_lr"]) * 0.5 * (1 + math.cos(math.pi * p)))


def sample(streams, batch, ctx, rng):
    """batch windows of ctx + 1 tokens at random offsets, spread evenly over the given streams."""
    rows = []
    for i in range(batch):
        s = streams[i % len(streams)]
        o = rng.integers(0, len(s) - ctx - 1)
        rows.append(s[o:o + ctx + 1])
    x = torch.from_numpy(np.stack(rows))
    return x[:, :-1], x[:, 1:]


def train(model, params, streams, s, ctx, label):
    """AdamW on params for s["steps"] steps (weight decay on matrices only), gradient norm clipped at 1."""
    decay = [p for p in params if p.dim() >= 2]
    other = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": s["weight_decay"]},
                             {"params": other, "weight_decay": 0.0}], lr=s["lr"], betas=tuple(s["betas"]))
    rng = np.random.default_rng(s["seed"])
    torch.manual_seed(s["seed"])
    curve, t0, recent = [], time.time(), []
    for step in range(s["steps"]):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, s)
        x, y = sample(streams, s["batch"], ctx, rng)
        loss = model.loss(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        recent.append(loss.item())
        if (step + 1) % 50 == 0 or step + 1 == s["steps"]:
            curve.append([step + 1, float(np.mean(recent)), round(time.time() - t0, 1)])
            recent = []
            print("%s step %d/%d loss %.4f (%.0f s)" % (label, step + 1, s["steps"], curve[-1][1], curve[-1][2]),
                  flush=True)
    return {"label": label, "steps": s["steps"], "seconds": round(time.time() - t0, 1), "curve": curve}


def write_log(workdir, name, log):
    os.makedirs(os.path.join(workdir, "logs"), exist_ok=True)
    with open(os.path.join(workdir, "logs", name + ".json"), "w") as f:
        json.dump(log, f, indent=1)


def build(folder, make):
    """Runs make(tmp) unless folder exists, then renames tmp to folder."""
    if os.path.isdir(folder):
        print("%s: present, kept" % folder, flush=True)
        return
    tmp = folder + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    make(tmp)
    os.replace(tmp, folder)


def pretrain(workdir, st):
    cfg = gpt2.hf_config(**st["model"])

    def make(tmp):
        model = gpt2.GPT2(cfg)
        model.init_weights(st["pretrain"]["seed"])
        streams = list(corpus.load(workdir, "pretrain").values())
        log = train(model, list(model.parameters()), streams, st["pretrain"], cfg["n_ctx"], "pretrain")
        gpt2.save_folder(model, tmp, cfg)
        write_log(workdir, "pretrain", log)

    build(os.path.join(workdir, "base"), make)


def finetune(workdir, st, kind, domain, stream):
    def make(tmp):
        model, cfg = gpt2.load_folder(os.path.join(workdir, "base"))
        log = train(model, list(model.parameters()), [stream], st[kind], cfg["n_ctx"], "%s/%s" % (kind, domain))
        gpt2.save_folder(model, tmp, cfg)
        write_log(workdir, "%s-%s" % (kind, domain), log)

    build(os.path.join(workdir, kind, domain), make)


def lora(workdir, st, domain, stream, set_name="lora"):
    """set_name lora: every domain's lora_A starts from the same draw, as adapters trained by one script with a
    fixed seed do (PEFT draws lora_A from torch's generator); lora-distinct: each domain's own draw; lora-gentle:
    the lora set's draw, trained with its own settings. The batches are the same in every set."""
    s = st["lora-gentle" if set_name == "lora-gentle" else "lora"]
    base_dir = os.path.join(workdir, "base")
    init_seed = s["seed"] + (zlib.crc32(domain.encode()) if set_name == "lora-distinct" else 0)

    def make(tmp):
        model, cfg = gpt2.load_folder(base_dir)
        for p in model.parameters():
            p.requires_grad_(False)
        g = torch.Generator().manual_seed(init_seed)
        adapted = [(n, m) for n, m in model.named_modules()
                   if isinstance(m, gpt2.Conv1D) and n.rsplit(".", 1)[-1] in s["targets"]]
        for _, m in adapted:
            m.attach_lora(s["r"], s["alpha"], g)
        params = [p for _, m in adapted for p in (m.lora_A, m.lora_B)]
        log = train(model, params, [stream], s, cfg["n_ctx"], "%s/%s" % (set_name, domain))
        peft_lora.write(tmp, [("transformer." + n, m.lora_A.detach().numpy(), m.lora_B.detach().numpy())
                              for n, m in adapted], s["r"], s["alpha"], s["targets"], os.path.abspath(base_dir))
        log["merged_vs_unmerged"] = check_merge(model, tmp, stream, cfg["n_ctx"])
        write_log(workdir, "%s-%s" % (set_name, domain), log)

    build(os.path.join(workdir, set_name, domain), make)


def check_merge(model, folder, stream, ctx):
    """The adapter as saved, merged densely the way eval.py does, must give the loss of the LoRA forward pass
    that was trained: this ties the file's names, shapes and fan_in_fan_out to PEFT's Conv1D semantics."""
    x, y = sample([stream], 8, ctx, np.random.default_rng(0))
    with torch.no_grad():
        unmerged = model.loss(x, y).item()
        base = {k: v for k, v in model.weights().items()}
        dense = gpt2.GPT2(model.cfg)
        dense.load_weights(peft_lora.apply(folder, base), folder)
        merged = dense.loss(x, y).item()
    if abs(merged - unmerged) > 1e-4 * max(1.0, abs(unmerged)):
        raise SystemExit("%s: merged adapter loss %.6f differs from the LoRA forward pass %.6f" % (folder, merged,
                                                                                                 unmerged))
    return {"unmerged": unmerged, "merged": merged}


def warn_if_slow_blas():
    """One line when torch's matrix product runs at reference-BLAS speed (Debian's python3-torch uses whatever
    libblas.so.3 the alternatives system selects): the times in README.md assume an optimised BLAS."""
    a = torch.randn(512, 512)
    t0 = time.time()
    for _ in range(4):
        a @ a
    gflops = 4 * 2 * 512 ** 3 / max(time.time() - t0, 1e-9) / 1e9
    if gflops < 20:
        print("train.py: torch multiplies matrices at %.1f GFLOP/s on one thread, a reference BLAS; this run will be "
              "10-40x slower than with OpenBLAS (set LM_BLAS, see tests/bench/lm/README.md)" % gflops, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workdir")
    p.add_argument("--quick", action="store_true", help="a tiny model and few steps: a smoke test in minutes")
    p.add_argument("--lora-distinct", action="store_true",
                   help="also train the lora-distinct set (each adapter its own lora_A initialisation)")
    p.add_argument("--lora-gentle", action="store_true",
                   help="also train the lora-gentle set (a tenth of the lora set's lr, half its steps)")
    a = p.parse_args()
    torch.set_num_threads(1)
    st = settings_for(a.workdir, "quick" if a.quick else "full")
    warn_if_slow_blas()
    t0 = time.time()
    if not os.path.isfile(os.path.join(a.workdir, "data", "summary.json")):
        d = st["data"]
        corpus.split(a.workdir, {k: d[k] for k in ("test", "finetune", "pretrain")}, d["seed"])
    pretrain(a.workdir, st)
    streams = corpus.load(a.workdir, "finetune")
    for domain, stream in streams.items():
        finetune(a.workdir, st, "gentle", domain, stream)
        finetune(a.workdir, st, "harsh", domain, stream)
        lora(a.workdir, st, domain, stream)
    if a.lora_distinct:
        for domain, stream in streams.items():
            lora(a.workdir, st, domain, stream, "lora-distinct")
    if a.lora_gentle:
        for domain, stream in streams.items():
            lora(a.workdir, st, domain, stream, "lora-gentle")
    print("train.py: done in %.0f s" % (time.time() - t0), flush=True)


if __name__ == "__main__":
    main()
