"""The markdown tables of a study's scores (study.py tables OUT): one table per testbed, then the regret summary.

Regret of a row on a testbed: how far it falls behind the bar, the better of averaging and task arithmetic x0.3,
as a fraction of the bar's own gain over the unmerged base (0: ties the bar; 1: no better than the base; below 0:
beats the bar). Unitless, so one worst case over testbeds of different scores (nats per byte, accuracy, error)."""
import glob
import json
import os

ORDER = ["lm-gentle", "lm-harsh", "lm-lora", "lm-lora-distinct", "lm-lora-gentle", "digits6", "synthetic-x0.1", "synthetic-x1",
         "synthetic-x10"]
HIGHER_IS_BETTER = {"digits6"}


def load(out):
    by = {}
    for path in glob.glob(os.path.join(out, "scores", "*.json")):
        if path.endswith(".signals.json"):
            continue
        with open(path) as f:
            r = json.load(f)
        by.setdefault(r["testbed"], {})[r["row"]] = r
    return by


def regret(tb, rows, name):
    """(row - bar) / |bar - base| in the direction of worse, or None where a needed row is missing."""
    need = ("base", "average", "ta0.3", name)
    if any(n not in rows for n in need):
        return None
    sign = -1.0 if tb in HIGHER_IS_BETTER else 1.0
    pick = max if tb in HIGHER_IS_BETTER else min
    bar = pick(rows["average"]["average"], rows["ta0.3"]["average"])
    gain = abs(bar - rows["base"]["average"])
    return sign * (rows[name]["average"] - bar) / gain if gain > 0 else None


def main(out):
    by = load(out)
    testbeds = [t for t in ORDER if t in by] + sorted(t for t in by if t not in ORDER)
    for tb in testbeds:
        rows = by[tb]
        first = next(iter(rows.values()))
        tasks = list(first["per_task"])
        better = "higher" if tb in HIGHER_IS_BETTER else "lower"
        print("### %s (%s is better)\n" % (tb, better))
        print("| row | " + " | ".join(tasks) + " | mean | regret | how |")
        print("|---|" + "---:|" * (len(tasks) + 2) + "---|")
        key = (lambda r: -r["average"]) if tb in HIGHER_IS_BETTER else (lambda r: r["average"])
        for r in sorted(rows.values(), key=key):
            g = regret(tb, rows, r["row"])
            print("| %s | %s | %.4f | %s | %s |" % (
                r["row"], " | ".join("%.4f" % r["per_task"].get(t, float("nan")) for t in tasks), r["average"],
                "-" if g is None else "%+.2f" % g, r["command"].replace("|", "\\|")))
        print()
    names = sorted({n for rows in by.values() for n in rows})
    print("### Regret summary (fraction of the bar's gain over the base lost; below 0 beats the bar)\n")
    print("| row | " + " | ".join(testbeds) + " | worst |")
    print("|---|" + "---:|" * (len(testbeds) + 1))
    table = []
    for n in names:
        gs = [regret(tb, by[tb], n) if n in by[tb] else None for tb in testbeds]
        known = [g for g in gs if g is not None]
        table.append((max(known) if len(known) == len(testbeds) else float("inf"), n, gs))
    for worst, n, gs in sorted(table):
        print("| %s | %s | %s |" % (n, " | ".join("-" if g is None else "%+.2f" % g for g in gs),
                                    "-" if worst == float("inf") else "%+.2f" % worst))
