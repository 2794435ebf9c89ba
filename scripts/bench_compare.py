#!/usr/bin/python3
"""The benchmark regression gate: a baseline CSV against a candidate CSV (both from
scripts/bench_to_csv.py), judged by the rules in a gate file (bench/gate.toml).

Prints a table (metric, baseline, candidate, ratio, verdict) and exits 1 if any rule fails,
2 on unusable input. Ratios compare an operation with an in-run baseline of the same run, so
a slower or faster machine moves both and the gate does not; exact rules check counters that
must hold (torn, lost) in every repetition.

    bench_compare.py BASELINE.csv CANDIDATE.csv [--gate bench/gate.toml]
                     [--gbench BASELINE.json CANDIDATE.json]

--gbench also prints Google Benchmark's own compare.py report (U test per benchmark) on the
raw JSON, for a closer look; it does not change the verdict.
"""
import argparse
import csv
import os
import subprocess
import sys
import tomllib

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
        if rule.get("statistic", "median") not in ("median", "min"):
            raise GateError(f"gate file {path}: [ratio.{name}] statistic must be 'median' or 'min'")
    for name, rule in gate.get("exact", {}).items():
        if "metric" not in rule or "equals" not in rule:
            raise GateError(f"gate file {path}: [exact.{name}] needs 'metric' and 'equals'")
    return gate


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
    """[(name, baseline, candidate, ratio, verdict, detail)], verdicts PASS/FAIL/SKIP."""
    results = []
    for name, rule in gate.get("ratio", {}).items():
        num, den = rule["numerator"], rule["denominator"]
        stat = rule.get("statistic", "median")  # or "min": the fastest repetition
        b = (value(base, num, stat), value(base, den, stat))
        c = (value(cand, num, stat), value(cand, den, stat))
        if None in b:
            results.append((name, None, None, None, "SKIP", f"not in the baseline: {num} or {den}"))
            continue
        if None in c:
            why = unavailable(cand, num) or unavailable(cand, den)
            results.append((name, b[0] / b[1], None, None, "FAIL",
                            f"unavailable in the candidate: {why}" if why else f"missing in the candidate: {num} or {den}"))
            continue
        br, cr = b[0] / b[1], c[0] / c[1]
        growth = cr / br if br else float("inf")
        verdict = "FAIL" if growth > rule["max_growth"] else "PASS"
        detail = f"{num} / {den} ({stat}s); allowed growth {rule['max_growth']}x"
        results.append((name, br, cr, growth, verdict, detail))
    for name, rule in gate.get("exact", {}).items():
        key, want = rule["metric"], float(rule["equals"])
        bv, cv = value(base, key, "max"), value(cand, key, "max")
        if cv is None:
            results.append((name, bv, None, None, "FAIL", f"missing in the candidate: {key}"))
            continue
        verdict = "PASS" if cv == want else "FAIL"
        results.append((name, bv, cv, None, verdict, f"{key} must be {want:g} in every repetition"))
    return results


def fmt(x):
    if x is None:
        return "-"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def print_table(results, out=sys.stdout):
    w = max([len(r[0]) for r in results] + [6])
    print(f"{'metric':<{w}}  {'baseline':>9}  {'candidate':>9}  {'ratio':>6}  verdict", file=out)
    for name, b, c, growth, verdict, detail in results:
        line = f"{name:<{w}}  {fmt(b):>9}  {fmt(c):>9}  {fmt(growth):>6}  {verdict}"
        if verdict != "PASS":
            line += f"  ({detail})"
        print(line, file=out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("baseline")
    p.add_argument("candidate")
    p.add_argument("--gate", default=os.path.join(ROOT, "bench", "gate.toml"))
    p.add_argument("--gbench", nargs=2, metavar=("BASELINE_JSON", "CANDIDATE_JSON"))
    args = p.parse_args(argv)
    try:
        gate = load_gate(args.gate)
        results = judge(load_csv(args.baseline), load_csv(args.candidate), gate)
    except GateError as e:
        print(f"bench_compare: {e}", file=sys.stderr)
        return 2
    print_table(results)
    failed = [r[0] for r in results if r[4] == "FAIL"]
    if args.gbench:
        if os.path.exists(GBENCH_COMPARE):
            subprocess.run([sys.executable, GBENCH_COMPARE, "benchmarks", *args.gbench], check=False)
        else:
            print(f"(no {GBENCH_COMPARE}: apt-get install libbenchmark-tools)", file=sys.stderr)
    if failed:
        print(f"\nGATE FAILED: {', '.join(failed)}")
        return 1
    print(f"\ngate passed: {len(results)} rules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
