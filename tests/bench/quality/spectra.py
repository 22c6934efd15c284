"""Two spectrum-shaping merges from the literature in numpy (float64), as data-free rows of the study. For one
tensor (task vectors oriented [out, in]):

    iso-c   Iso-C (Marczak et al., 2025, "No task left behind"): the sum of the task vectors with its nonzero
            singular values replaced by their mean, U diag(mean s) V^T, so that every direction the tasks share
            gets the same weight.
    tsv-m   TSV-M (Gargiulo et al., 2025, "Task singular vectors"): each task vector cut to its top
            min(out, in) / n singular triplets (the paper's share, so that the stack is at most square), the
            singular vectors stacked and orthogonalised (the nearest orthonormal matrix, from an SVD of the
            stack), with each task's own singular values: the tasks' directions decorrelated before they are
            added.

Both papers tune a global scale on validation data; here the result is scaled to the Frobenius norm of the task
vectors' mean (the magnitude averaging writes), so the rows read no data and differ from averaging only in
direction."""
import numpy as np


def _fro(a):
    return float(np.sqrt(np.sum(a * a)))


def _rank(s):
    return int(np.sum(s > s[0] * 1e-6)) if len(s) and s[0] > 0 else 0


def _to_mean_norm(d, taus):
    target, have = _fro(sum(taus) / len(taus)), _fro(d)
    return d * (target / have) if have > 0 else d


def iso_c(taus):
    u, s, vt = np.linalg.svd(sum(taus), full_matrices=False)
    k = _rank(s)
    return _to_mean_norm((u[:, :k] * s[:k].mean()) @ vt[:k] if k else sum(taus), taus)


def tsv_m(taus):
    us, ss, vs = [], [], []
    share = max(1, min(taus[0].shape) // len(taus))
    for t in taus:
        u, s, vt = np.linalg.svd(t, full_matrices=False)
        k = min(_rank(s), share)
        us.append(u[:, :k]), ss.append(s[:k]), vs.append(vt[:k].T)
    if not sum(len(s) for s in ss):
        return sum(taus)
    u, v, s = np.concatenate(us, 1), np.concatenate(vs, 1), np.concatenate(ss)
    pu, _, qu = np.linalg.svd(u, full_matrices=False)
    pv, _, qv = np.linalg.svd(v, full_matrices=False)
    return _to_mean_norm(((pu @ qu) * s) @ (pv @ qv).T, taus)


MERGES = {"iso-c@norm": iso_c, "tsv-m@norm": tsv_m}
