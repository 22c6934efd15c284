"""Data-free coefficient rules for a merged task vector, and the per-tensor signals they read (numpy only).

A merge is W = W0 + c tau_m, tau_m the solver's merged task vector at scale 1. Every rule reads only the task
vectors tau_i = W_i - W0 of the tensor (oriented [out, in]) and tau_m; none reads data or is tuned per model.

    fixed c:     x1, x0.5, x0.3, inv-n (1/n)
    norm:        c = ||mean_i tau_i||_F / ||tau_m||_F       (average's magnitude, the solver's direction)
    proj:        c = <tau_m, mean_i tau_i> / ||tau_m||_F^2  (least-squares scale of tau_m toward the average)
    sqrt-norm:   c = sqrt(norm)
    neff:        c = 1 / n_eff,  n_eff = sum_i ||tau_i||^2 / (n ||mean_i tau_i||^2): n for orthogonal task vectors,
                 1 for identical ones (the limits of WUDI's tau_m: the sum and the average)
    *-global:    the same ratio over all the solver's tensors at once (one c for the whole merge)

A tensor whose task vectors are all zero, or whose tau_m is zero, gets c = 1 (there is nothing to scale)."""
import numpy as np


def _fro2(a):
    return float(np.sum(a * a))


def stats(taus, tm):
    """The sums the rules need for one tensor: ||mean tau||^2, ||tau_m||^2, <tau_m, mean tau>, sum ||tau_i||^2."""
    mean = sum(taus) / len(taus)
    return {"mean2": _fro2(mean), "tm2": _fro2(tm), "dot": float(np.sum(tm * mean)),
            "sum_sq": sum(_fro2(t) for t in taus), "n": len(taus)}


def _ratio(num, den):
    return num / den if den > 0 and num > 0 else 1.0


def coefficient(rule, s):
    """c for one tensor (s = stats(...)) or, for a -global rule, for summed stats."""
    n = s["n"]
    base = rule[:-len("-global")] if rule.endswith("-global") else rule
    if base.startswith("x"):
        return float(base[1:])
    if base == "inv-n":
        return 1.0 / n
    if base == "norm":
        return _ratio(s["mean2"], s["tm2"]) ** 0.5
    if base == "sqrt-norm":
        return _ratio(s["mean2"], s["tm2"]) ** 0.25
    if base == "proj":
        return _ratio(s["dot"], s["tm2"]) if s["tm2"] > 0 else 1.0
    if base == "neff":
        return _ratio(n * s["mean2"], s["sum_sq"])
    raise SystemExit("unknown rule %s" % rule)


def coefficients(rule, per_tensor):
    """name -> c for every tensor: per_tensor maps name -> stats(...)."""
    if rule.endswith("-global"):
        total = {k: sum(s[k] for s in per_tensor.values()) for k in ("mean2", "tm2", "dot", "sum_sq")}
        total["n"] = next(iter(per_tensor.values()))["n"]
        c = coefficient(rule, total)
        return {name: c for name in per_tensor}
    return {name: coefficient(rule, s) for name, s in per_tensor.items()}


def overlap(taus):
    """Data-free signals of how much the tasks share, for one tensor (oriented [out, in]):
    cos: mean pairwise cosine of the task vectors; n_ov = ||C||_F^2 / sum_i ||G_i||_F^2 with G_i = tau_i^T tau_i /
    ||tau_i||^2 and C = sum_i G_i (1 when the row spaces are disjoint, n when they coincide);
    cond: C's largest over its smallest nonzero eigenvalue (above 1e-6 of the largest)."""
    n = len(taus)
    norms = [np.sqrt(_fro2(t)) for t in taus]
    live = [t / nm for t, nm in zip(taus, norms) if nm > 0]
    if len(live) < 2:
        return {"cos": 1.0, "n_ov": 1.0, "cond": 1.0}
    cos = [float(np.sum(a * b)) for i, a in enumerate(live) for b in live[i + 1:]]
    grams = [t.T @ t for t in live]                                   # G_i, [in, in]
    c = sum(grams)
    ev = np.linalg.eigvalsh(c)
    ev = ev[ev > 1e-6 * ev[-1]]
    return {"cos": float(np.mean(cos)), "n_ov": _fro2(c) / sum(_fro2(g) for g in grams),
            "cond": float(ev[-1] / ev[0]), "n": n}
