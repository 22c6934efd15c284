#!/usr/bin/env python3
"""Would transformers (or PEFT) load this folder? Answered without transformers, torch or numpy.

Reads the safetensors headers and config.json of a model folder (or adapter_config.json and
adapter_model.safetensors of a PEFT LoRA adapter) and resolves the names as the libraries do:

  model folder    the class config.json's architectures names (or --arch) expects every key of its
                  state dict, with the shapes config.json implies (layer count, widths, vocabulary,
                  tied embeddings, a head of num_labels rows). Names are matched by transformers' two
                  base_model_prefix rules: v4 (4.51-4.57: a checkpoint none of whose keys starts with
                  the prefix is a bare body, every key gets the prefix, and a task head among them is
                  "The state dictionary of the model you are trying to load is corrupted") and v5 (each
                  key gets or loses the prefix where that makes it a key of the model).
  --head F --config C
                  `from_pretrained(FOLDER, config=C)` then `load_state_dict(F, strict=False)`: the
                  folder's body under C's class, then the head file's keys; every key of the class
                  must come from one of the two, and none of F's may go unused.
  --base B        the folder is a PEFT LoRA adapter on base B: the class is B's for the adapter's
                  task_type; PEFT's target_modules rule (a string is a full match, a list entry equals
                  the module path or ends it after a dot) picks the adapted modules, rank_pattern gives
                  each its rank; every lora_A/lora_B in the file must be for a picked module and shaped
                  [r, in] / [out, r], every picked module must have both, and every tensor kept in full
                  must be for a module modules_to_save names, in the module's shape.

Exit status: 0 when it loads, with one line saying what was checked; 1 with one line per missing,
unexpected or misshapen key (and per refusal); 2 for a usage error or an architecture not known here.
Supported: GPT-2, Llama, BERT and DistilBERT, their bare models, LM heads and classification heads.
"""

import argparse
import json
import os
import re
import struct
import sys

SAFETENSORS = "model.safetensors"
INDEX = "model.safetensors.index.json"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
               "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


class Refused(Exception):
    """The folder cannot be read as asked (usage, an unknown architecture): exit 2."""


# ------------------------------------------------------------------------------------------------ files

def read_header(path):
    """A safetensors file's tensors, {name: (dtype, shape)}, after checking the byte ranges fit the file."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise Refused(f"{path}: shorter than a safetensors header")
        n = struct.unpack("<Q", raw)[0]
        if n > size - 8:
            raise Refused(f"{path}: header length {n} is past the end of the file")
        header = json.loads(f.read(n))
    out = {}
    end = 0
    for name, t in header.items():
        if name == "__metadata__":
            continue
        shape = [int(d) for d in t["shape"]]
        begin, stop = t["data_offsets"]
        numel = 1
        for d in shape:
            numel *= d
        if t["dtype"] in DTYPE_BYTES and stop - begin != numel * DTYPE_BYTES[t["dtype"]]:
            raise Refused(f"{path}: tensor {name} holds {stop - begin} bytes, its dtype and shape need "
                          f"{numel * DTYPE_BYTES[t['dtype']]}")
        end = max(end, stop)
        out[name] = (t["dtype"], shape)
    if 8 + n + end != size:
        raise Refused(f"{path}: the tensors end at byte {8 + n + end}, the file at {size}")
    return out


def checkpoint_tensors(folder, problems):
    """Every tensor of a folder's model.safetensors or of the shards its index names."""
    index = os.path.join(folder, INDEX)
    if os.path.isfile(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        tensors = {}
        for shard in sorted(set(weight_map.values())):
            for name, t in read_header(os.path.join(folder, shard)).items():
                if weight_map.get(name) != shard:
                    problems.append(f"{shard}: tensor {name} is not in {INDEX}'s weight_map for this file")
                tensors[name] = t
        for name, shard in weight_map.items():
            if name not in tensors:
                problems.append(f"{INDEX}: {name} is mapped to {shard}, which does not hold it")
        return tensors
    single = os.path.join(folder, SAFETENSORS)
    if not os.path.isfile(single):
        raise Refused(f"{folder}: neither {SAFETENSORS} nor {INDEX}")
    return read_header(single)


def read_json(path):
    if not os.path.isfile(path):
        raise Refused(f"{path}: not found")
    with open(path) as f:
        return json.load(f)


# ------------------------------------------------------------------------------------------------ labels

def num_labels(config, problems, where):
    """transformers' num_labels: len(id2label) when given (num_labels then only checked), else num_labels or 2."""
    id2label = config.get("id2label")
    label2id = config.get("label2id")
    if id2label is None:
        if label2id is not None:
            problems.append(f"{where}: label2id without id2label")
        return int(config.get("num_labels", 2))
    try:
        ids = sorted(int(k) for k in id2label)
    except ValueError:
        problems.append(f"{where}: id2label keys are not integers: {sorted(id2label)}")
        return len(id2label)
    if ids != list(range(len(ids))):
        problems.append(f"{where}: id2label keys are {ids}, not 0..{len(ids) - 1}")
    if label2id is not None and {str(v): k for k, v in label2id.items()} != {str(k): v for k, v in id2label.items()}:
        problems.append(f"{where}: label2id {label2id} is not the inverse of id2label {id2label}")
    if "num_labels" in config and int(config["num_labels"]) != len(id2label):
        problems.append(f"{where}: num_labels {config['num_labels']} but id2label has {len(id2label)} labels")
    return len(id2label)


# ------------------------------------------------------------------------------------------------ architectures

def field(config, *names, default=None):
    for n in names:
        if config.get(n) is not None:
            return config[n]
    if default is None:
        raise Refused(f"config.json has none of {', '.join(names)}")
    return default


def gpt2_body(c):
    e = field(c, "n_embd", "hidden_size", default=768)
    inner = c.get("n_inner") or 4 * e
    v = field(c, "vocab_size", default=50257)
    k = {"wte.weight": [v, e], "wpe.weight": [field(c, "n_positions", default=1024), e]}
    for i in range(field(c, "n_layer", "num_hidden_layers", default=12)):
        h = f"h.{i}."
        for ln in ("ln_1", "ln_2"):
            k[h + ln + ".weight"] = [e]
            k[h + ln + ".bias"] = [e]
        # Conv1D stores its weight [in, out]
        for name, i_, o in (("attn.c_attn", e, 3 * e), ("attn.c_proj", e, e), ("mlp.c_fc", e, inner),
                            ("mlp.c_proj", inner, e)):
            k[h + name + ".weight"] = [i_, o]
            k[h + name + ".bias"] = [o]
    k["ln_f.weight"] = [e]
    k["ln_f.bias"] = [e]
    return k, e, v


def llama_body(c):
    hidden = field(c, "hidden_size", default=4096)
    heads = field(c, "num_attention_heads", default=32)
    kv = c.get("num_key_value_heads") or heads
    head_dim = c.get("head_dim") or hidden // heads
    inter = field(c, "intermediate_size", default=11008)
    v = field(c, "vocab_size", default=32000)
    attn_bias = bool(c.get("attention_bias", False))
    mlp_bias = bool(c.get("mlp_bias", False))
    k = {"embed_tokens.weight": [v, hidden]}
    for i in range(field(c, "num_hidden_layers", default=32)):
        p = f"layers.{i}."
        for name, o, i_ in (("q_proj", heads * head_dim, hidden), ("k_proj", kv * head_dim, hidden),
                            ("v_proj", kv * head_dim, hidden), ("o_proj", hidden, heads * head_dim)):
            k[p + "self_attn." + name + ".weight"] = [o, i_]
            if attn_bias:
                k[p + "self_attn." + name + ".bias"] = [o]
        for name, o, i_ in (("gate_proj", inter, hidden), ("up_proj", inter, hidden), ("down_proj", hidden, inter)):
            k[p + "mlp." + name + ".weight"] = [o, i_]
            if mlp_bias:
                k[p + "mlp." + name + ".bias"] = [o]
        k[p + "input_layernorm.weight"] = [hidden]
        k[p + "post_attention_layernorm.weight"] = [hidden]
    k["norm.weight"] = [hidden]
    return k, hidden, v


def bert_body(c, pooler):
    h = field(c, "hidden_size", default=768)
    inter = field(c, "intermediate_size", default=3072)
    v = field(c, "vocab_size", default=30522)
    k = {"embeddings.word_embeddings.weight": [v, h],
         "embeddings.position_embeddings.weight": [field(c, "max_position_embeddings", default=512), h],
         "embeddings.token_type_embeddings.weight": [field(c, "type_vocab_size", default=2), h],
         "embeddings.LayerNorm.weight": [h], "embeddings.LayerNorm.bias": [h]}
    for i in range(field(c, "num_hidden_layers", default=12)):
        p = f"encoder.layer.{i}."
        for name, o, i_ in (("attention.self.query", h, h), ("attention.self.key", h, h),
                            ("attention.self.value", h, h), ("attention.output.dense", h, h),
                            ("intermediate.dense", inter, h), ("output.dense", h, inter)):
            k[p + name + ".weight"] = [o, i_]
            k[p + name + ".bias"] = [o]
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            k[p + ln + ".weight"] = [h]
            k[p + ln + ".bias"] = [h]
    if pooler:
        k["pooler.dense.weight"] = [h, h]
        k["pooler.dense.bias"] = [h]
    return k, h, v


def distilbert_body(c):
    d = field(c, "dim", "hidden_size", default=768)
    hd = field(c, "hidden_dim", default=4 * d)
    v = field(c, "vocab_size", default=30522)
    k = {"embeddings.word_embeddings.weight": [v, d],
         "embeddings.position_embeddings.weight": [field(c, "max_position_embeddings", default=512), d],
         "embeddings.LayerNorm.weight": [d], "embeddings.LayerNorm.bias": [d]}
    for i in range(field(c, "n_layers", "num_hidden_layers", default=6)):
        p = f"transformer.layer.{i}."
        for name, o, i_ in (("attention.q_lin", d, d), ("attention.k_lin", d, d), ("attention.v_lin", d, d),
                            ("attention.out_lin", d, d), ("ffn.lin1", hd, d), ("ffn.lin2", d, hd)):
            k[p + name + ".weight"] = [o, i_]
            k[p + name + ".bias"] = [o]
        for ln in ("sa_layer_norm", "output_layer_norm"):
            k[p + ln + ".weight"] = [d]
            k[p + ln + ".bias"] = [d]
    return k, d, v


def linear(name, out, inp, bias=True):
    k = {name + ".weight": [out, inp]}
    if bias:
        k[name + ".bias"] = [out]
    return k


class Architecture:
    """One class of transformers: its base_model_prefix, its body, its head, what it ties and ignores."""

    def __init__(self, model_type, prefix, body, head=None, tied=(), task=True, buffers=(), ignore_unexpected=(),
                 tie_default=True, conv1d=()):
        self.model_type = model_type
        self.prefix = prefix
        self.body = body              # config -> (keys, hidden, vocab)
        self.head = head              # (config, hidden, vocab, labels) -> keys
        self.tied = tied              # keys that tie to the input embedding (absent from files when tied)
        self.task = task              # a task class holds the body under prefix (hasattr(model, prefix))
        self.buffers = [re.compile(b) for b in buffers]   # the model's buffers: a file may hold them, never missing
        self.ignore_unexpected = [re.compile(p) for p in ignore_unexpected]
        self.tie_default = tie_default
        self.conv1d = re.compile(conv1d[0]) if conv1d else None

    def expected(self, config, problems, where):
        body, hidden, vocab = self.body(config)
        if not self.task:
            return dict(body)
        keys = {self.prefix + "." + k: s for k, s in body.items()}
        if self.head:
            keys.update(self.head(config, hidden, vocab, lambda: num_labels(config, problems, where)))
        return keys

    def ties(self, config):
        return bool(config.get("tie_word_embeddings", self.tie_default))


GPT2_BUFFERS = (r"(^|\.)h\.\d+\.attn\.(masked_)?bias$",)
LLAMA_BUFFERS = (r"rotary_emb\.inv_freq$",)
BERT_BUFFERS = (r"embeddings\.(position_ids|token_type_ids)$",)
GPT2_CONV1D = (r"(^|\.)(attn\.(c_attn|c_proj)|mlp\.(c_fc|c_proj))$",)

def family(model_type, prefix, body, buffers, tie_default=True, conv1d=()):
    """The classes of one model type: a bare model (task=False) or the body under prefix with a head."""
    return lambda head=None, task=True, **more: Architecture(model_type, prefix, body, head, task=task,
                                                            buffers=buffers, tie_default=tie_default, conv1d=conv1d,
                                                            **more)


def lm_head(c, h, v, n):
    return linear("lm_head", v, h, False)


GPT2 = family("gpt2", "transformer", gpt2_body, GPT2_BUFFERS, conv1d=GPT2_CONV1D)
LLAMA = family("llama", "model", llama_body, LLAMA_BUFFERS, tie_default=False)
BERT = family("bert", "bert", lambda c: bert_body(c, True), BERT_BUFFERS)
BERT_NO_POOLER = family("bert", "bert", lambda c: bert_body(c, False), BERT_BUFFERS)
DISTILBERT = family("distilbert", "distilbert", distilbert_body, BERT_BUFFERS)

ARCHITECTURES = {
    "GPT2Model": GPT2(task=False),
    "GPT2LMHeadModel": GPT2(lm_head, tied=("lm_head.weight",)),
    "GPT2ForSequenceClassification": GPT2(lambda c, h, v, n: linear("score", n(), h, False)),
    "GPT2ForTokenClassification": GPT2(lambda c, h, v, n: linear("classifier", n(), h)),
    "LlamaModel": LLAMA(task=False),
    "LlamaForCausalLM": LLAMA(lm_head, tied=("lm_head.weight",)),
    "LlamaForSequenceClassification": LLAMA(lambda c, h, v, n: linear("score", n(), h, False)),
    "LlamaForTokenClassification": LLAMA(lambda c, h, v, n: linear("score", n(), h)),
    "BertModel": BERT(task=False),
    "BertForSequenceClassification": BERT(lambda c, h, v, n: linear("classifier", n(), h)),
    "BertForTokenClassification": BERT_NO_POOLER(lambda c, h, v, n: linear("classifier", n(), h),
                                                 ignore_unexpected=(r"pooler",)),
    "BertForMaskedLM": BERT_NO_POOLER(lambda c, h, v, n: {
        "cls.predictions.bias": [v], **linear("cls.predictions.transform.dense", h, h),
        "cls.predictions.transform.LayerNorm.weight": [h], "cls.predictions.transform.LayerNorm.bias": [h],
        **linear("cls.predictions.decoder", v, h)},
        tied=("cls.predictions.decoder.weight", "cls.predictions.decoder.bias"), ignore_unexpected=(r"pooler",)),
    "DistilBertModel": DISTILBERT(task=False),
    "DistilBertForSequenceClassification": DISTILBERT(lambda c, h, v, n: {**linear("pre_classifier", h, h),
                                                                         **linear("classifier", n(), h)}),
    "DistilBertForMaskedLM": DISTILBERT(lambda c, h, v, n: {
        **linear("vocab_transform", h, h), "vocab_layer_norm.weight": [h], "vocab_layer_norm.bias": [h],
        **linear("vocab_projector", v, h)}, tied=("vocab_projector.weight",)),
}

# the class PEFT's task_type makes (AutoModelFor...), by model_type
TASK_CLASSES = {
    "CAUSAL_LM": {"gpt2": "GPT2LMHeadModel", "llama": "LlamaForCausalLM"},
    "SEQ_CLS": {"gpt2": "GPT2ForSequenceClassification", "llama": "LlamaForSequenceClassification",
                "bert": "BertForSequenceClassification", "distilbert": "DistilBertForSequenceClassification"},
    "TOKEN_CLS": {"gpt2": "GPT2ForTokenClassification", "llama": "LlamaForTokenClassification",
                  "bert": "BertForTokenClassification"},
    "FEATURE_EXTRACTION": {"gpt2": "GPT2Model", "llama": "LlamaModel", "bert": "BertModel",
                           "distilbert": "DistilBertModel"},
}


def architecture(config, arch, where):
    name = arch or (config.get("architectures") or [None])[0]
    if name is None:
        raise Refused(f"{where}: config.json names no architectures; give --arch")
    if name not in ARCHITECTURES:
        raise Refused(f"{where}: architecture {name} is not known to this loader (known: "
                      f"{', '.join(sorted(ARCHITECTURES))})")
    a = ARCHITECTURES[name]
    if config.get("model_type") != a.model_type:
        raise Refused(f"{where}: architecture {name} is a {a.model_type} class, but model_type is "
                      f"{config.get('model_type')}")
    return name, a


# ------------------------------------------------------------------------------------------------ transformers

def legacy_rename(key):
    """transformers' _fix_state_dict_key_on_load: LayerNorm.gamma/beta as weight/bias."""
    if key.endswith("LayerNorm.gamma"):
        return key[:-len("gamma")] + "weight"
    if key.endswith("LayerNorm.beta"):
        return key[:-len("beta")] + "bias"
    return key


def resolve_v4(arch, keys, expected):
    """transformers 4.51-4.57: the prefix rule decided once for the whole checkpoint. -> ({model key: file key}, errors)"""
    p = arch.prefix
    has_prefix = any(k.startswith(p) for k in keys)
    task_from_base = not has_prefix and arch.task
    base_from_task = has_prefix and not arch.task
    mapping = {}
    unused = []
    for k in keys:
        n = legacy_rename(k)
        if task_from_base:
            n = p + "." + n
        elif base_from_task:
            if not n.startswith(p + "."):
                unused.append(k)      # a task class's head loaded into a bare model: not used
                continue
            n = n[len(p) + 1:]
        mapping[n] = k
    errors = []
    if task_from_base:
        # the bare body is loaded into the prefix's submodule; a head key there is a corrupted state dict
        heads = [k for k in keys if legacy_rename(k) in expected and not legacy_rename(k).startswith(p + ".")]
        if heads:
            errors.append("transformers 4.x: ValueError \"The state dictionary of the model you are trying to load"
                          f" is corrupted\": no key starts with '{p}', so every key is read as the bare body's, and"
                          f" {', '.join(sorted(heads))} {'is' if len(heads) == 1 else 'are'} the head's")
    return mapping, unused, errors


def resolve_v5(arch, keys, expected):
    """transformers 5: each key gets or loses the prefix where that makes it a key of the model."""
    p = arch.prefix
    mapping = {}
    for k in keys:
        n = legacy_rename(k)
        if n.startswith(p) and re.sub("^" + re.escape(p) + ".", "", n, count=1) in expected:
            n = re.sub("^" + re.escape(p) + ".", "", n, count=1)
        elif p + "." + n in expected:
            n = p + "." + n
        mapping[n] = k
    return mapping, [], []


def check_load(arch, config, expected, tensors, version, extra=None, own_head=()):
    """Missing, unexpected and misshapen keys of one load.

    extra: a head file loaded after it with load_state_dict(strict=False) (its keys replace the folder's);
    own_head: keys of the folder's own class's head (an lm_head), which another class leaves unused as it should.
    """
    resolve = resolve_v4 if version == 4 else resolve_v5
    mapping, unused, problems = resolve(arch, list(tensors), expected)
    label = f"transformers {version}.x: "
    loaded = {n: (k, tensors[k][1]) for n, k in mapping.items()}
    for n in unused:
        problems.append(f"{label}{n}: not used by the class (a head of another class)")
    for k, (_, shape) in (extra or {}).items():
        if k not in expected:
            problems.append(f"{label}{k} (head file): not a key of the class (load_state_dict(strict=False)"
                            f" ignores it silently)")
        else:
            loaded[k] = (k + " (head file)", shape)
    for n, (src, shape) in loaded.items():
        if n not in expected:
            if any(b.search(n) for b in arch.buffers) or any(x.search(n) for x in arch.ignore_unexpected) \
                    or src in own_head:
                continue
            problems.append(f"{label}unexpected key {src}" + (f" (read as {n})" if n != src else ""))
        elif list(shape) != list(expected[n]):
            problems.append(f"{label}misshapen key {n}: {list(shape)} in the file, the class needs "
                            f"{list(expected[n])}")
    tied = set(arch.tied) if arch.ties(config) else set()
    for n in expected:
        bare = n[len(arch.prefix) + 1:] if n.startswith(arch.prefix + ".") else n
        if n not in loaded and n not in tied and bare not in tied:
            problems.append(f"{label}missing key {n} {expected[n]} (transformers would initialise it at random)")
    return problems


def check_model(folder, arch_name, head, head_config, versions):
    problems = []
    config = read_json(os.path.join(folder, "config.json"))
    tensors = checkpoint_tensors(folder, problems)
    where = os.path.join(folder, "config.json")
    extra = None
    own_head = ()
    if head is not None:
        # the folder's own class (a CausalLM's lm_head): its head goes unused under the head's class, as it should
        _, own = architecture(config, None, where)
        own_head = set(own.expected(config, [], where)) - {own.prefix + "." + k for k in own.body(config)[0]} \
            if own.task else set()
        hc = read_json(head_config)
        # the body config and the head's must describe the same body
        for k, v in config.items():
            if k in ("architectures", "id2label", "label2id", "num_labels", "problem_type", "finetuning_task",
                     "pad_token_id"):
                continue
            if hc.get(k) != v:
                problems.append(f"{head_config}: {k} is {hc.get(k)!r}, the folder's config.json has {v!r}")
        config, where = hc, head_config
        extra = read_header(head)
    name, arch = architecture(config, arch_name, where)
    expected = arch.expected(config, problems, where)
    for v in versions:
        problems.extend(check_load(arch, config, expected, tensors, v, extra, own_head))
    what = f"{name}: {len(expected)} keys" + (f", head from {os.path.basename(head)}" if head else "")
    return what, problems


# ------------------------------------------------------------------------------------------------ PEFT

def pattern_key(patterns, key):
    """PEFT's get_pattern_key: the first rank_pattern/alpha_pattern key that ends the module path."""
    for p in patterns:
        if re.match(r"(.*\.)?(" + p + r")$", key):
            return p
    return None


def targets(config, key):
    """PEFT's check_target_module_exists for a list or a regex string, with layers_to_transform."""
    t = config.get("target_modules")
    if isinstance(t, str):
        return re.fullmatch(t, key) is not None
    if not (key in t or any(key.endswith("." + x) for x in t)):
        return False
    layers = config.get("layers_to_transform")
    if layers is None:
        return True
    layers = [layers] if isinstance(layers, int) else layers
    patterns = config.get("layers_pattern") or []
    patterns = [patterns] if isinstance(patterns, str) else patterns
    index = None
    for p in patterns or [None]:
        m = re.match(r".*\.[^.]*\.(\d+)\." if p is None else r".*\." + p + r"\.(\d+)\.", key)
        if m:
            index = int(m.group(1))
            break
    return index is not None and index in layers


def saved_by(names, key):
    """Whether modules_to_save wraps this module (the name equals the path or ends it after a dot)."""
    return any(key == n or key.endswith("." + n) for n in names)


def check_adapter(folder, base, arch_name, labels):
    problems = []
    ac = read_json(os.path.join(folder, ADAPTER_CONFIG))
    if ac.get("peft_type") != "LORA":
        raise Refused(f"{folder}: peft_type {ac.get('peft_type')} is not LORA")
    for k in ("r", "lora_alpha", "target_modules"):
        if ac.get(k) is None:
            problems.append(f"{ADAPTER_CONFIG}: {k} is missing")
    if problems:
        return "adapter", problems
    bc = dict(read_json(os.path.join(base, "config.json")))
    if labels is not None:
        bc["id2label"] = {str(i): f"LABEL_{i}" for i in range(labels)}
        bc.pop("label2id", None)
    task = ac.get("task_type")
    name = arch_name or TASK_CLASSES.get(task, {}).get(bc.get("model_type"))
    name, arch = architecture(bc, name, os.path.join(base, "config.json"))
    params = arch.expected(bc, problems, os.path.join(base, "config.json"))
    # the model's modules: every parameter's owner, and every module above them
    leaves = {}
    for k, shape in params.items():
        module, _, param = k.rpartition(".")
        leaves.setdefault(module, {})[param] = shape
    modules = set()
    for m in leaves:
        parts = m.split(".")
        for i in range(1, len(parts) + 1):
            modules.add(".".join(parts[:i]))
    save = ac.get("modules_to_save") or []
    picked = {}
    for m in sorted(modules):
        if save and any(re.match(r"(^|.*\.)" + s + r"($|\..*)", m) for s in save):
            continue          # PEFT never adapts what modules_to_save wraps
        if not targets(ac, m):
            continue
        w = leaves.get(m, {}).get("weight")
        if w is None or len(w) != 2:
            problems.append(f"PEFT: target_modules selects {m}, which is not a Linear, Conv1D or Embedding layer"
                            f" (\"Target module ... is not supported\")")
            continue
        p = pattern_key(list((ac.get("rank_pattern") or {}).keys()), m)
        r = int(ac["rank_pattern"][p]) if p is not None else int(ac["r"])
        embedding = m.rsplit(".", 1)[-1] in ("wte", "wpe", "embed_tokens", "word_embeddings",
                                             "position_embeddings", "token_type_embeddings")
        if embedding:
            a, b = [r, w[0]], [w[1], r]
        elif arch.conv1d is not None and arch.conv1d.search(m):
            a, b = [r, w[0]], [w[1], r]           # Conv1D's weight is [in, out]
        else:
            a, b = [r, w[1]], [w[0], r]
        picked[m] = (embedding, a, b)
    if not picked:
        problems.append(f"PEFT: ValueError \"Target modules {ac['target_modules']} not found in the base model\""
                        f" ({name})")
    tensors = read_header(os.path.join(folder, ADAPTER_WEIGHTS))
    found = {}
    for key, (_, shape) in tensors.items():
        if not key.startswith(PEFT_PREFIX):
            problems.append(f"{ADAPTER_WEIGHTS}: {key} lacks PEFT's prefix {PEFT_PREFIX}")
            continue
        k = key[len(PEFT_PREFIX):]
        m = re.fullmatch(r"(.+)\.lora_(A|B)\.weight", k) or re.fullmatch(r"(.+)\.lora_embedding_(A|B)", k)
        if m:
            module, which = m.group(1), m.group(2)
            if module not in picked:
                problems.append(f"PEFT: unexpected key {key}: target_modules {ac['target_modules']} does not select"
                                f" {module}" + ("" if module in modules else f" (no module {module} in {name})")
                                + ", so its change is not applied")
                continue
            embedding, a, b = picked[module]
            if embedding != ("embedding" in k):
                problems.append(f"PEFT: {key}: {'an embedding' if embedding else 'a linear'} layer's factors are"
                                f" named lora_{'embedding_' if embedding else ''}A/B")
            want = a if which == "A" else b
            if list(shape) != want:
                problems.append(f"PEFT: misshapen key {key}: {list(shape)}, the module needs {want} (r = {want[0] if which == 'A' else want[1]})")
            found.setdefault(module, set()).add(which)
            continue
        module, _, param = k.rpartition(".")
        if module not in leaves or param not in leaves[module]:
            problems.append(f"PEFT: unexpected key {key}: {name} has no parameter {k}")
        elif not saved_by(save, module):
            problems.append(f"PEFT: {key} is kept in full but modules_to_save {save or None} does not name"
                            f" {module}")
        elif list(shape) != list(leaves[module][param]):
            problems.append(f"PEFT: misshapen key {key}: {list(shape)}, the module needs {leaves[module][param]}")
    for module in picked:
        got = found.get(module, set())
        if got != {"A", "B"}:
            problems.append(f"PEFT: missing key{'s' if not got else ''} for {module}: target_modules selects it but"
                            f" the file has no lora_{'/'.join(sorted({'A', 'B'} - got))} (PEFT warns \"Found missing"
                            " adapter keys\" and the module keeps a fresh initialisation)")
    for s in save:
        if not any(saved_by([s], m) for m in modules):
            problems.append(f"PEFT: modules_to_save names {s}, which matches no module of {name}")
    return f"LoRA adapter on {name}: {len(picked)} modules", problems


# ------------------------------------------------------------------------------------------------ main

def main(argv):
    ap = argparse.ArgumentParser(description="Would transformers / PEFT load this folder?")
    ap.add_argument("folder")
    ap.add_argument("--arch", help="the class to load as (default: config.json's architectures[0], or the"
                                   " adapter's task_type)")
    ap.add_argument("--head", help="a head file loaded after the folder with load_state_dict(strict=False)")
    ap.add_argument("--config", help="the config (with the head's class and labels) the folder is loaded with")
    ap.add_argument("--base", help="the base model folder of a PEFT LoRA adapter")
    ap.add_argument("--num-labels", type=int, help="num_labels the adapter's base is loaded with")
    ap.add_argument("--transformers", choices=("4", "5", "both"), default="both")
    a = ap.parse_args(argv)
    versions = [4, 5] if a.transformers == "both" else [int(a.transformers)]
    try:
        if (a.head is None) != (a.config is None):
            raise Refused("--head and --config go together")
        if os.path.isfile(os.path.join(a.folder, ADAPTER_CONFIG)):
            if a.base is None:
                raise Refused(f"{a.folder} is a PEFT adapter: give --base")
            what, problems = check_adapter(a.folder, a.base, a.arch, a.num_labels)
        else:
            what, problems = check_model(a.folder, a.arch, a.head, a.config, versions)
    except Refused as e:
        print(f"hf_load: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError) as e:
        print(f"hf_load: {a.folder}: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    if problems:
        print(f"hf_load: {a.folder} does not load as {what}:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"ok: {a.folder} loads as {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
