#!/usr/bin/env python3
"""What each fine-tune gains on its own domain and costs the others, and the task-arithmetic coefficient that
predicts, per set; read from the work folder's scores of each fine-tune alone (run.sh writes them).

    python3 tests/bench/lm/crosstalk.py WORKDIR

Model: domain i's held-out loss near the base is quadratic in the weights, the same curvature H for every domain
(they share their inputs), with its minimum at kappa tau_i (kappa < 1: the fine-tune went past the held-out
optimum; > 1: it stopped short), and the task vectors H-orthogonal (their cosines are 0.004 to 0.07). Then fine-tune
i alone changes its own domain by q (1 - 2 kappa) / 2 and another domain by q / 2 (q = tau^T H tau), so

    R = mean cost on the other domains / mean gain on the own domain = 1 / (2 kappa - 1),  kappa = (1 + 1 / R) / 2

and W0 + lambda sum_i tau_i is best at lambda* = kappa / n. Averaging is lambda = 1 / n: it is optimal when kappa = 1,
and no rule that reads only the weights can see kappa, which is a property of held-out data."""
import json
import os
import sys

SETS = ("gentle", "harsh", "lora", "lora-distinct", "lora-gentle")


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    scores = os.path.join(sys.argv[1], "scores")
    with open(os.path.join(scores, "base.json")) as f:
        base = json.load(f)["per_domain"]
    domains = list(base)
    print("| set | own-domain gain | cost on each other domain | R | kappa | lambda* = kappa / n |")
    print("|---|---:|---:|---:|---:|---:|")
    for s in SETS:
        alone = {}
        for d in domains:
            path = os.path.join(scores, "%s__%s.json" % (s, d))
            if not os.path.isfile(path):
                break
            with open(path) as f:
                alone[d] = json.load(f)["per_domain"]
        if len(alone) != len(domains):
            continue
        gain = sum(base[d] - alone[d][d] for d in domains) / len(domains)
        pairs = [(d, e) for d in domains for e in domains if e != d]
        cost = sum(alone[d][e] - base[e] for d, e in pairs) / len(pairs)
        r = cost / gain
        kappa = (1 + 1 / r) / 2
        print("| %s | %.4f | %.4f | %.2f | %.2f | %.3f |" % (s, gain, cost, r, kappa, kappa / len(domains)))


if __name__ == "__main__":
    main()
