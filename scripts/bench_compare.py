#!/usr/bin/python3
"""The benchmark regression gate: a baseline CSV against a candidate CSV (both from
scripts/bench_to_csv.py), judged by the rules in a gate file (bench/gate.toml).

Prints a table (metric, baseline, candidate, ratio, p, verdict) and exits 1 if any rule
fails, 2 on unusable input. Ratios compare an operation with an in-run baseline of the same
run, so a slower or faster machine moves both and the gate does not; exact rules check
counters that must hold (torn, lost) in every repetition.

A ratio rule fails only when both hold: the ratio grew by more than its max_growth (the
effect is large enough to matter), and a one-sided Mann-Whitney U test over the repetitions'
ratios says the candidate's are larger than the baseline's at level alpha (the growth is not
one unlucky repetition). The test needs per-repetition values (the CSV's `values` column); a
CSV without them is judged on the growth alone.

    bench_compare.py BASELINE.csv CANDIDATE.csv [--gate bench/gate.toml]
                     [--gbench BASELINE.json CANDIDATE.json] [--no-color]

Beside each ratio, the table prints the nanoseconds it is made of on each side (numerator /
denominator), so two machines can be compared too: their nanoseconds differ, their ratios to
the in-run baselines are what the verdict reads (docs/benchmarks.md, "Two machines").
It runs under Debian's /usr/bin/python3 whatever python3 comes first on PATH (tomllib, the
packages scripts/setup.sh installed).

--gbench also prints Google Benchmark's own compare.py report (U test per benchmark) on the
raw JSON, for a closer look; it does not change the verdict.
"""
import os
import sys

SYSTEM_PYTHON = "/usr/bin/python3"
if (__name__ == "__main__" and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)
        and os.access(SYSTEM_PYTHON, os.X_OK) and not os.environ.get("MARLLB_BENCH_COMPARE_REEXEC")):
    os.environ["MARLLB_BENCH_COMPARE_REEXEC"] = "1"  # once: never a loop
    os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__), *sys.argv[1:]])

import argparse  # noqa: E402 (after the interpreter check)
import csv  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import tomllib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GBENCH_COMPARE = "/usr/share/benchmark/compare.py"


class GateError(Exception):
    pass


def load_csv(path):
    """{ 'binary:benchmark:metric': row } for one benchmark CSV."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise GateError(f"cannot read {path}: {e.strerror}")
    need = {"binary", "benchmark", "metric", "median", "max"}
    if not rows or not need <= set(rows[0]):
        raise GateError(f"{path} is not a benchmark CSV (needs columns {sorted(need)}); "
                        "make it with scripts/bench_to_csv.py")
    table = {}
    for r in rows:
        binary = r["binary"].removesuffix(".json")
        if r["metric"] == "unavailable":
            table[f"{binary}:{r['benchmark']}:unavailable"] = r
            continue
        table[f"{binary}:{r['benchmark']}:{r['metric']}"] = r
    return table


def load_gate(path):
    try:
        with open(path, "rb") as f:
            gate = tomllib.load(f)
    except OSError as e:
        raise GateError(f"cannot read gate file {path}: {e.strerror}")
    except tomllib.TOMLDecodeError as e:
        raise GateError(f"gate file {path} is not valid TOML: {e}")
    for name, rule in gate.get("ratio", {}).items():
        for key in ("numerator", "denominator", "max_growth"):
            if key not in rule:
                raise GateError(f"gate file {path}: [ratio.{name}] lacks '{key}'")
        if rule.get("test", "mann-whitney") not in ("mann-whitney", "none"):
            raise GateError(f"gate file {path}: [ratio.{name}] test must be 'mann-whitney' or 'none'")
        if not 0 < float(rule.get("alpha", 0.01)) < 1:
            raise GateError(f"gate file {path}: [ratio.{name}] alpha must be between 0 and 1")
        if rule.get("statistic", "median") not in ("median", "min"):
            raise GateError(f"gate file {path}: [ratio.{name}] statistic must be 'median' or 'min'")
    for name, rule in gate.get("exact", {}).items():
        if "metric" not in rule or "equals" not in rule:
            raise GateError(f"gate file {path}: [exact.{name}] needs 'metric' and 'equals'")
    return gate


def mann_whitney_greater(cand, base):
    """One-sided p-value that `cand` tends to be larger than `base` (Mann-Whitney U).

    Exact (the null distribution of U by recursion) when there are no ties; the normal
    approximation with tie and continuity corrections otherwise."""
    m, n = len(cand), len(base)
    u = sum(1.0 if c > b else 0.5 if c == b else 0.0 for c in cand for b in base)
    pooled = sorted(cand + base)
    if len(set(pooled)) == len(pooled):
        # counts[k] = number of orderings of m + n values whose U equals k, built up one value
        # at a time: f(m, n) = f(m - 1, n) shifted by n, plus f(m, n - 1).
        table = {(0, j): [1] for j in range(n + 1)}
        for i in range(1, m + 1):
            table[(i, 0)] = [1]
            for j in range(1, n + 1):
                a, b = table[(i - 1, j)], table[(i, j - 1)]
                size = i * j + 1
                f = [0] * size
                for k, c in enumerate(a):
                    f[k + j] += c
                for k, c in enumerate(b):
                    f[k] += c
                table[(i, j)] = f
        dist = table[(m, n)]
        return sum(dist[int(u):]) / sum(dist)
    ranks, i = {}, 0
    while i < len(pooled):
        j = i
        while j < len(pooled) and pooled[j] == pooled[i]:
            j += 1
        ranks[pooled[i]] = (i + j + 1) / 2
        i = j
    ties = sum(t ** 3 - t for t in (pooled.count(v) for v in set(pooled)))
    var = m * n / 12 * ((m + n + 1) - ties / ((m + n) * (m + n - 1)))
    if var <= 0:
        return 1.0
    z = (u - m * n / 2 - 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))


def repetitions(table, key):
    """Every repetition's value, in run order, or None when the CSV has no `values`."""
    row = table.get(key)
    if row is None or not row.get("values"):
        return None
    try:
        return [float(v) for v in row["values"].split()]
    except ValueError:
        return None


def rep_ratios(table, num, den):
    n, d = repetitions(table, num), repetitions(table, den)
    if not n or not d or len(n) != len(d) or min(d) <= 0:
        return None
    return [a / b for a, b in zip(n, d)]


def value(table, key, column="median"):
    row = table.get(key)
    if row is None:
        return None
    try:
        return float(row[column])
    except (TypeError, ValueError):
        return None


def unavailable(table, key):
    bench = key.rsplit(":", 1)[0]
    row = table.get(bench + ":unavailable")
    return row["unit"] if row else None


def judge(base, cand, gate):
    """[(name, baseline, candidate, growth, p, verdict, detail)], verdicts PASS/FAIL/SKIP."""
    results = []
    for name, rule in gate.get("ratio", {}).items():
        num, den = rule["numerator"], rule["denominator"]
        stat = rule.get("statistic", "median")  # or "min": the fastest repetition
        alpha = float(rule.get("alpha", 0.01))
        b = (value(base, num, stat), value(base, den, stat))
        c = (value(cand, num, stat), value(cand, den, stat))
        if None in b:
            results.append((name, None, None, None, None, "SKIP", f"not in the baseline: {num} or {den}"))
            continue
        if None in c:
            why = unavailable(cand, num) or unavailable(cand, den)
            results.append((name, b[0] / b[1], None, None, None, "FAIL",
                            f"unavailable in the candidate: {why}" if why else f"missing in the candidate: {num} or {den}"))
            continue
        if not all(math.isfinite(v) and v > 0 for v in (*b, *c)):
            results.append((name, None, None, None, None, "FAIL",
                            f"not positive finite numbers: {num} / {den} = {b[0]} / {b[1]} (baseline), {c[0]} / {c[1]} (candidate)"))
            continue
        br, cr = b[0] / b[1], c[0] / c[1]
        growth = cr / br
        base_reps, cand_reps = rep_ratios(base, num, den), rep_ratios(cand, num, den)
        tested = rule.get("test", "mann-whitney") == "mann-whitney"
        p = mann_whitney_greater(cand_reps, base_reps) if tested and base_reps and cand_reps else None
        grew = growth > rule["max_growth"]
        verdict = "FAIL" if grew and (p is None or p < alpha) else "PASS"
        detail = f"{num} / {den} ({stat}s); allowed growth {rule['max_growth']}x"
        if p is not None:
            detail += f", U test p = {p:.2g} (fails below {alpha:g})"
            if grew and p >= alpha:
                detail += ": grew, but not consistently over the repetitions"
        results.append((name, br, cr, growth, p, verdict, detail))
    for name, rule in gate.get("exact", {}).items():
        key, want = rule["metric"], float(rule["equals"])
        bv, cv = value(base, key, "max"), value(cand, key, "max")
        if cv is None:
            results.append((name, bv, None, None, None, "FAIL", f"missing in the candidate: {key}"))
            continue
        verdict = "PASS" if cv == want else "FAIL"
        results.append((name, bv, cv, None, None, verdict, f"{key} must be {want:g} in every repetition"))
    return results


def fmt(x):
    if x is None:
        return "-"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def side_ns(base, cand, gate):
    """{ratio rule: (baseline 'num / den' ns, candidate 'num / den' ns)}, by the rule's statistic."""
    out = {}
    for name, rule in gate.get("ratio", {}).items():
        stat = rule.get("statistic", "median")
        sides = []
        for table in (base, cand):
            n, d = value(table, rule["numerator"], stat), value(table, rule["denominator"], stat)
            sides.append("-" if None in (n, d) else f"{fmt(n)} / {fmt(d)}")
        out[name] = tuple(sides)
    return out


COLORS = {"PASS": "\033[32m", "FAIL": "\033[31m", "SKIP": "\033[33m"}


def print_table(results, out=None, ns=None, color=False):
    """ns: side_ns() for the 'ns' columns; color: verdicts in colour (a terminal, not --no-color)."""
    out = out or sys.stdout
    ns = ns or {}
    w = max([len(r[0]) for r in results] + [6])
    nw = max([len(x) for pair in ns.values() for x in pair] + [len("baseline ns")])
    head = f"{'metric':<{w}}  {'baseline':>9}  {'candidate':>9}  {'growth':>6}  {'p':>7}  verdict"
    if ns:
        head += f"  {'baseline ns':>{nw}}  {'candidate ns':>{nw}}"
    print(head, file=out)
    for name, b, c, growth, p, verdict, detail in results:
        ps = "-" if p is None else f"{p:.2g}"
        shown = f"{COLORS[verdict]}{verdict}\033[0m" if color else verdict
        line = f"{name:<{w}}  {fmt(b):>9}  {fmt(c):>9}  {fmt(growth):>6}  {ps:>7}  {shown}" + " " * (7 - len(verdict))
        if ns:
            bn, cn = ns.get(name, ("", ""))
            line += f"  {bn:>{nw}}  {cn:>{nw}}"
        if verdict != "PASS" or "not consistently" in detail:
            line += f"  ({detail})"
        print(line.rstrip(), file=out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("baseline")
    p.add_argument("candidate")
    p.add_argument("--gate", default=os.path.join(ROOT, "bench", "gate.toml"))
    p.add_argument("--gbench", nargs=2, metavar=("BASELINE_JSON", "CANDIDATE_JSON"))
    p.add_argument("--csv", help="append one row per rule (label, rule, baseline, candidate, growth, p, "
                   "verdict) to this CSV, e.g. for a series of gate runs")
    p.add_argument("--label", default="", help="the label column of --csv rows")
    p.add_argument("--no-color", action="store_true", help="no colours, also in --gbench's report "
                   "(colours are used only on a terminal)")
    p.add_argument("--rules", help="judge only these rules (comma-separated names), e.g. when the "
                   "candidate ran only the benchmarks they read")
    args = p.parse_args(argv)
    try:
        gate = load_gate(args.gate)
        if args.rules:
            keep = set(args.rules.split(","))
            unknown = keep - set(gate.get("ratio", {})) - set(gate.get("exact", {}))
            if unknown:
                raise GateError(f"--rules names rules the gate file does not have: {', '.join(sorted(unknown))}")
            gate = {kind: {n: r for n, r in rules.items() if n in keep} for kind, rules in gate.items()}
        base, cand = load_csv(args.baseline), load_csv(args.candidate)
        results = judge(base, cand, gate)
    except GateError as e:
        print(f"bench_compare: {e}", file=sys.stderr)
        return 2
    print_table(results, ns=side_ns(base, cand, gate), color=sys.stdout.isatty() and not args.no_color)
    if args.csv:
        new = not os.path.exists(args.csv) or os.path.getsize(args.csv) == 0
        with open(args.csv, "a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["label", "rule", "baseline", "candidate", "growth", "p", "verdict"])
            for name, b, c, growth, pv, verdict, _ in results:
                w.writerow([args.label, name, "" if b is None else f"{b:.6g}", "" if c is None else f"{c:.6g}",
                            "" if growth is None else f"{growth:.4f}", "" if pv is None else f"{pv:.3g}", verdict])
    failed = [r[0] for r in results if r[5] == "FAIL"]
    if args.gbench:
        if os.path.exists(GBENCH_COMPARE):
            subprocess.run([sys.executable, GBENCH_COMPARE, *(["--no-color"] if args.no_color else []), "benchmarks",
                            *args.gbench], check=False)
        else:
            print(f"(no {GBENCH_COMPARE}: apt-get install libbenchmark-tools)", file=sys.stderr)
    if failed:
        print(f"\nGATE FAILED: {', '.join(failed)}")
        return 1
    print(f"\ngate passed: {len(results)} rules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
