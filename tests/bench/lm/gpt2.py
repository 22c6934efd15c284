"""A GPT-2 causal language model in plain torch whose state_dict has Hugging Face GPT-2's names and layout:
wte.weight, wpe.weight, h.{i}.ln_1, h.{i}.attn.c_attn, h.{i}.attn.c_proj, h.{i}.ln_2, h.{i}.mlp.c_fc, h.{i}.mlp.c_proj,
ln_f; Conv1D weights stored [in, out] (y = x W + b); the lm_head tied to wte and not stored. The vocabulary is the
256 byte values plus one end-of-text token, so a loss in nats per token is a loss in nats per byte."""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import safetensors_io

EOT = 256
VOCAB = 257


class Conv1D(nn.Module):
    """transformers' Conv1D: weight [in, out]. With a LoRA attached (lora_A [r, in], lora_B [out, r], as PEFT
    creates them from the Conv1D's weight shape), y = x W + b + scaling x A^T B^T: the weight PEFT merges is
    W + scaling (B A)^T, which is what fan_in_fan_out means."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))
        self.lora_A = self.lora_B = None
        self.scaling = 0.0

    def attach_lora(self, r, alpha, generator):
        n_in, n_out = self.weight.shape
        a = torch.empty(r, n_in)
        # PEFT's default init: lora_A as nn.Linear's default (kaiming uniform, a = sqrt(5)), lora_B zero.
        bound = 1.0 / math.sqrt(n_in)
        a.uniform_(-bound, bound, generator=generator)
        self.lora_A = nn.Parameter(a)
        self.lora_B = nn.Parameter(torch.zeros(n_out, r))
        self.scaling = alpha / r

    def forward(self, x):
        y = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(*x.shape[:-1], -1)
        if self.lora_A is not None:
            y = y + self.scaling * F.linear(F.linear(x, self.lora_A), self.lora_B)
        return y


class Attention(nn.Module):
    def __init__(self, d, n_head):
        super().__init__()
        self.n_head = n_head
        self.c_attn = Conv1D(d, 3 * d)
        self.c_proj = Conv1D(d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.n_head, d // self.n_head).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.n_head)
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        return self.c_proj((att @ v).transpose(1, 2).reshape(b, t, d))


class MLP(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.c_fc = Conv1D(d, 4 * d)
        self.c_proj = Conv1D(4 * d, d)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))  # gelu_new


class Block(nn.Module):
    def __init__(self, d, n_head):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.attn = Attention(d, n_head)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.mlp = MLP(d)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        d = cfg["n_embd"]
        self.wte = nn.Embedding(cfg["vocab_size"], d)
        self.wpe = nn.Embedding(cfg["n_positions"], d)
        self.h = nn.ModuleList(Block(d, cfg["n_head"]) for _ in range(cfg["n_layer"]))
        self.ln_f = nn.LayerNorm(d, eps=1e-5)

    def init_weights(self, seed):
        """GPT-2's initialisation: N(0, 0.02), residual projections N(0, 0.02 / sqrt(2 n_layer)), biases 0."""
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
                    p.fill_(1.0)
                elif name.endswith(".bias"):
                    p.zero_()
                else:
                    std = 0.02 / math.sqrt(2 * self.cfg["n_layer"]) if name.endswith("c_proj.weight") else 0.02
                    p.normal_(0.0, std, generator=g)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for block in self.h:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.t()        # tied lm_head

    def loss(self, idx, targets, ignore_eot=False):
        """Mean cross-entropy (nats) of next-token predictions; ignore_eot leaves end-of-text targets out, so the
        mean is over bytes."""
        logits = self(idx)
        ignore = EOT if ignore_eot else -100
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=ignore)

    def weights(self):
        """The checkpoint: name -> float32 numpy array, Hugging Face names, no LoRA factors."""
        return {k: v.detach().numpy().copy() for k, v in self.state_dict().items() if ".lora_" not in k}

    def load_weights(self, tensors, where):
        own = {k for k in self.state_dict() if ".lora_" not in k}
        missing, extra = own - set(tensors), set(tensors) - own - {"lm_head.weight"}
        if missing or extra:
            raise SystemExit("%s: tensors do not match the model (missing %s, unexpected %s)"
                             % (where, sorted(missing)[:5], sorted(extra)[:5]))
        with torch.no_grad():
            for k, p in self.state_dict().items():
                if k in tensors:
                    want = tuple(p.shape)
                    if tuple(tensors[k].shape) != want:
                        raise SystemExit("%s: tensor %s has shape %s, the model's is %s"
                                         % (where, k, list(tensors[k].shape), list(want)))
                    p.copy_(torch.from_numpy(np.ascontiguousarray(tensors[k], dtype=np.float32)))


def hf_config(n_embd, n_layer, n_head, n_ctx):
    """config.json as transformers writes it for a GPT2LMHeadModel (dropout 0: this model is trained without)."""
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.0,
        "bos_token_id": EOT,
        "embd_pdrop": 0.0,
        "eos_token_id": EOT,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": n_ctx,
        "n_embd": n_embd,
        "n_head": n_head,
        "n_inner": None,
        "n_layer": n_layer,
        "n_positions": n_ctx,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.0,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.0,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": VOCAB,
    }


def save_folder(model, folder, cfg):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    safetensors_io.write(os.path.join(folder, "model.safetensors"), model.weights())


def read_config(folder):
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise SystemExit("%s: no config.json" % folder)
    with open(path) as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "gpt2":
        raise SystemExit("%s: model_type is %r, not gpt2" % (path, cfg.get("model_type")))
    return cfg


def load_folder(folder):
    cfg = read_config(folder)
    model = GPT2(cfg)
    model.load_weights(safetensors_io.read_model_folder(folder), folder)
    return model, cfg
