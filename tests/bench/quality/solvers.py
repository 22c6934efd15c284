"""WUDI's spectral solvers in numpy (float64), with a choice of starting point, to prototype rules the engine
does not have. For one tensor (task vectors oriented [out, in]):

    C = sum_i w_i tau_i^T tau_i,  D = sum_i w_i tau_i tau_i^T tau_i,  w_i = 1 / ||tau_i||^2,  C = V diag(lam) V^T
    tau = tau0 - tau0 V diag(a) V^T + D V diag(b) V^T

with the engine's filters and data-free knee (SpectralFilter): lam_c = F trace(C) / rank(C) over the eigenvalues
above the numerical zero (dim 2^-23 lam_max); exponential a = 1 - exp(-lam / lam_c), b = a / lam; tikhonov
a = lam / (lam + lam_c), b = 1 / (lam + lam_c). tau0 is the engine's sum of the task vectors, or here also
their mean ("start mean"): the directions the filter leaves unsolved then keep the average, not the sum."""
import numpy as np


def solve(taus, start="sum", kind="exponential", cutoff=0.1):
    live = [t for t in taus if np.any(t)]
    tau0 = sum(taus) if start == "sum" else sum(taus) / len(taus)
    if not live:
        return tau0
    ws = [1.0 / float(np.sum(t * t)) for t in live]
    c = sum(w * (t.T @ t) for w, t in zip(ws, live))
    d = sum(w * (t @ (t.T @ t)) for w, t in zip(ws, live))
    lam, v = np.linalg.eigh(c)
    keep = lam > max(lam[-1], 0) * c.shape[0] * 2.0 ** -23
    lam, v = lam[keep], v[:, keep]
    lc = cutoff * lam.sum() / len(lam)
    if kind == "exponential":
        a = -np.expm1(-lam / lc)
        b = a / lam
    elif kind == "tikhonov":
        a = lam / (lam + lc)
        b = 1.0 / (lam + lc)
    else:
        raise SystemExit("unknown filter %s" % kind)
    return tau0 - ((tau0 @ v) * a) @ v.T + ((d @ v) * b) @ v.T


def loss(taus, tm):
    """WUDI's interference loss sum_i w_i ||(tau_m - tau_i) tau_i^T||^2 (the engine's reported loss)."""
    return sum(float(np.sum(((tm - t) @ t.T) ** 2)) / float(np.sum(t * t)) for t in taus if np.any(t))
