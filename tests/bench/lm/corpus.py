"""The text domains and their file-level split: pretraining files, fine-tuning files and held-out test files, three
disjoint sets per domain, chosen deterministically from files on this machine.

Each domain's candidate files are listed in sorted order, shuffled with a seed derived from the domain's name, and
taken in that order: first the test files, then the fine-tuning files, then the pretraining files, each set until
its byte quota is met. A file contributes at most its first `cap` bytes; files shorter than 512 bytes and files
whose content (after gunzip) equals a file already taken, in any domain, are skipped, so that a text shipped twice
(a changelog in two packages, a header in two include trees) cannot sit on both sides of the split. Each set is
stored as one stream of byte values with the end-of-text token between files (uint16, data/DOMAIN/SET.npy), and
the chosen paths are written next to it (SET.files) so that the split can be audited."""
import glob
import gzip
import hashlib
import json
import os
import random
import re
import zlib

import numpy as np

from gpt2 import EOT

MIN_BYTES = 512


def _prose(text):
    """Keeps documents that read as prose: mostly letters and spaces (drops data tables and key lists)."""
    sample = text[:4096]
    letters = sum(1 for c in sample if 65 <= c <= 90 or 97 <= c <= 122 or c == 32)
    return letters >= 0.75 * len(sample)


# name -> (roots, regex on the path, extra test on the bytes or None)
DOMAINS = {
    "python": (sorted(glob.glob("/usr/lib/python3.[0-9]*")), r"\.py$", None),
    "c_headers": (["/usr/include"], r"\.h$", None),
    "changelog": (["/usr/share/doc"], r"/changelog\.Debian(\.gz)?$", None),
    "prose": (["/usr/share/doc"], r"(?i)\.(md|txt|rst)(\.gz)?$|/README(\.gz)?$", _prose),
}

EXCLUDE = re.compile(r"(?i)/(CMakeLists\.txt|requirements[^/]*\.txt|copyright)$")


def candidates(roots, pattern):
    rx = re.compile(pattern)
    out = []
    for root in roots:
        for d, subdirs, files in os.walk(root):
            subdirs.sort()
            for f in files:
                p = os.path.join(d, f)
                if rx.search(p) and not EXCLUDE.search(p) and not os.path.islink(p) and os.path.isfile(p):
                    out.append(p)
    return sorted(out)


def read_text(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            return b""
    return data


def split(workdir, quotas, seed):
    """quotas: {set: (bytes wanted, per-file cap)} in the order the sets are filled. Writes data/DOMAIN/SET.npy and
    SET.files and data/summary.json; returns the summary."""
    seen = set()
    summary = {"seed": seed, "domains": {}}
    for name, (roots, pattern, keep) in DOMAINS.items():
        paths = candidates(roots, pattern)
        if not paths:
            raise SystemExit("corpus: domain %s has no files under %s matching %s" % (name, roots, pattern))
        random.Random(seed * 1000003 + zlib.crc32(name.encode())).shuffle(paths)
        out = os.path.join(workdir, "data", name)
        os.makedirs(out, exist_ok=True)
        it = iter(paths)
        info = {"candidates": len(paths)}
        for set_name, (want, cap) in quotas.items():
            chosen, stream, size = [], [], 0
            for p in it:
                if size >= want:
                    break
                data = read_text(p)
                digest = hashlib.sha1(data).digest()
                if len(data) < MIN_BYTES or digest in seen or (keep is not None and not keep(data)):
                    continue
                seen.add(digest)
                piece = np.frombuffer(data[:cap], dtype=np.uint8).astype(np.uint16)
                stream.append(piece)
                stream.append(np.array([EOT], dtype=np.uint16))
                chosen.append(p)
                size += len(piece)
            if size < want:
                raise SystemExit("corpus: domain %s has only %d bytes for its %s set (wanted %d); lower the quota"
                                 % (name, size, set_name, want))
            np.save(os.path.join(out, set_name + ".npy"), np.concatenate(stream))
            with open(os.path.join(out, set_name + ".files"), "w") as f:
                f.write("".join(p + "\n" for p in chosen))
            info[set_name] = {"files": len(chosen), "bytes": size}
        summary["domains"][name] = info
    with open(os.path.join(workdir, "data", "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary


def load(workdir, set_name):
    """domain -> the set's token stream (int64 torch-ready numpy array), in the order of data/summary.json."""
    path = os.path.join(workdir, "data", "summary.json")
    if not os.path.isfile(path):
        raise SystemExit("%s: no data/summary.json; run train.py %s first" % (workdir, workdir))
    with open(path) as f:
        domains = list(json.load(f)["domains"])
    return {d: np.load(os.path.join(workdir, "data", d, set_name + ".npy")).astype(np.int64) for d in domains}
