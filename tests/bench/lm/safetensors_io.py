"""Reads and writes .safetensors by hand (numpy only), and reads a Hugging Face model folder: model.safetensors or
shards listed by model.safetensors.index.json. F32, F16 and BF16 are read as float32 numpy arrays."""
import json
import os
import struct

import numpy as np

_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4"}


def write(path, tensors, metadata=None):
    """tensors: name -> numpy array, written as F32 in the given order, under a temporary name then renamed."""
    header, offset, blobs = {"__metadata__": dict(metadata or {"format": "pt"})}, 0, []
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read(path):
    """name -> float32 numpy array (other dtypes as stored), in the file's order."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        raw = data[lo:hi]
        if info["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] in _DTYPES:
            a = np.frombuffer(raw, _DTYPES[info["dtype"]])
        else:
            raise SystemExit("%s: tensor %s has dtype %s, which this reader does not know" % (path, name, info["dtype"]))
        a = a.reshape(info["shape"])
        out[name] = a.astype(np.float32) if a.dtype.kind == "f" else a
    return out


def read_model_folder(folder):
    """The tensors of a Hugging Face folder: model.safetensors, or every shard its index names."""
    single = os.path.join(folder, "model.safetensors")
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.isfile(single):
        return read(single)
    if os.path.isfile(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        out = {}
        for s in shards:
            out.update(read(os.path.join(folder, s)))
        return out
    raise SystemExit("%s: no model.safetensors and no model.safetensors.index.json" % folder)
