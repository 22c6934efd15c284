"""PEFT LoRA adapter folders for the GPT-2 model: written after training, and read back as the dense deltas PEFT's
merge_and_unload would add to the base.

PEFT wraps a transformers Conv1D (weight [in, out]) with lora_A = nn.Linear(in, r) and lora_B = nn.Linear(r, out),
so the saved factors are lora_A.weight [r, in] and lora_B.weight [out, r], and with fan_in_fan_out (which PEFT sets
for Conv1D) the merged weight is W + scaling (B A)^T, scaling = lora_alpha / r (lora_alpha / sqrt(r) with rsLoRA),
per module from rank_pattern / alpha_pattern when given. A GPT2LMHeadModel's modules sit under `transformer.`, so
the tensors are named base_model.model.transformer.h.{i}.attn.c_attn.lora_A.weight, which loads into a checkpoint
saved without that prefix (h.{i}.attn.c_attn.weight) as transformers does."""
import json
import math
import os
import re

import numpy as np

import safetensors_io

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
PREFIX = "base_model.model."
LORA = re.compile(r"(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$")


def is_adapter(folder):
    return os.path.isfile(os.path.join(folder, CONFIG))


def write(folder, modules, r, alpha, targets, base_name):
    """modules: (module path in GPT2LMHeadModel, lora_A [r, in], lora_B [out, r]) in model order."""
    os.makedirs(folder, exist_ok=True)
    tensors = {}
    for path, a, b in modules:
        tensors[PREFIX + path + ".lora_A.weight"] = a
        tensors[PREFIX + path + ".lora_B.weight"] = b
    safetensors_io.write(os.path.join(folder, WEIGHTS), tensors)
    cfg = {"alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": base_name, "bias": "none",
           "fan_in_fan_out": True, "inference_mode": True, "init_lora_weights": True, "layer_replication": None,
           "layers_pattern": None, "layers_to_transform": None, "loftq_config": {}, "lora_alpha": alpha,
           "lora_dropout": 0.0, "megatron_config": None, "megatron_core": "megatron.core", "modules_to_save": None,
           "peft_type": "LORA", "r": r, "rank_pattern": {}, "revision": None, "target_modules": sorted(targets),
           "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": False}
    with open(os.path.join(folder, CONFIG), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)


def _pattern_value(patterns, module, default):
    """PEFT's rule for rank_pattern / alpha_pattern: a key matches a module path that ends with it."""
    for key, value in patterns.items():
        if re.match(r"(.*\.)?(%s)$" % key, module):
            return value
    return default


def _base_name(module_weight, base):
    """transformers' prefix rule: transformer.h.0.attn.c_attn.weight meets h.0.attn.c_attn.weight."""
    if module_weight in base:
        return module_weight
    if module_weight.startswith("transformer.") and module_weight[len("transformer."):] in base:
        return module_weight[len("transformer."):]
    return None


def dense_deltas(folder, base, magnitudes=False):
    """base tensor name -> the delta (float64, the base tensor's shape) that the adapter adds, and
    base tensor name -> the full value for tensors the adapter saved whole (modules_to_save). With magnitudes,
    scaling (|B| |A|) in place of scaling (B A): the sizes of the terms the product sums, for rounding bounds."""
    with open(os.path.join(folder, CONFIG)) as f:
        cfg = json.load(f)
    if cfg.get("peft_type") != "LORA" or cfg.get("use_dora"):
        raise SystemExit("%s: not a plain LoRA adapter (peft_type %s, use_dora %s)"
                         % (folder, cfg.get("peft_type"), cfg.get("use_dora")))
    factors, full = {}, {}
    for name, t in safetensors_io.read(os.path.join(folder, WEIGHTS)).items():
        short = name[len(PREFIX):] if name.startswith(PREFIX) else name
        m = LORA.match(short)
        if m:
            t = np.abs(t) if magnitudes else t
            factors.setdefault(m.group(1), {})[m.group(2)] = t.astype(np.float64)
        else:
            b = _base_name(short, base)
            if b is None:
                raise SystemExit("%s: tensor %s is neither a LoRA factor nor a tensor of the base" % (folder, name))
            full[b] = t
    deltas = {}
    for module, ab in factors.items():
        if set(ab) != {"A", "B"}:
            raise SystemExit("%s: module %s lacks lora_%s" % (folder, module, "A" if "A" not in ab else "B"))
        r = _pattern_value(cfg.get("rank_pattern") or {}, module, cfg["r"])
        alpha = _pattern_value(cfg.get("alpha_pattern") or {}, module, cfg["lora_alpha"])
        scaling = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
        delta = scaling * (ab["B"] @ ab["A"])                   # [out, in]
        if cfg.get("fan_in_fan_out"):
            delta = delta.T                                     # Conv1D stores [in, out]
        b = _base_name(module + ".weight", base)
        if b is None or base[b].shape != delta.shape:
            raise SystemExit("%s: module %s gives a delta of shape %s, but the base has %s"
                             % (folder, module, list(delta.shape), "no such weight" if b is None
                                else "%s %s" % (b, list(base[b].shape))))
        deltas[b] = delta
    return deltas, full


def apply(folder, base):
    """The fine-tune the adapter stands for: base tensors with the deltas added (float32, rounded once)."""
    deltas, full = dense_deltas(folder, base)
    out = {}
    for k, w in base.items():
        if k in full:
            out[k] = full[k]
        elif k in deltas:
            out[k] = (w.astype(np.float64) + deltas[k]).astype(np.float32)
        else:
            out[k] = w
    return out
