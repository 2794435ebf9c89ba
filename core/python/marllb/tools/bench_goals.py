"""The performance goals of bench/goals.toml judged on one run: each goal's value, its in-run
floor, their ratio and the verdict (ok: within the limit; miss: over it).

    marllb-bench-goals --bench results/bench/latest/bench.csv [--python FILE] [--csv OUT]
    (or python3 -m marllb.tools.bench_goals ...; --goals defaults to the checkout's bench/goals.toml)

--bench is scripts/bench.sh's bench.csv; --python is bench/bench_python.py's CSV, of which the
newest run (its date) is read. Without --python the Python goals are left out and said to be.
--csv appends one row per goal (the run's commit, CPU and date with it).

Exit 0 when every goal was judged, whatever the verdicts (the table says which missed); 2 for
a file that cannot be read or lacks a benchmark a goal needs (named, with what makes it).
"""
import argparse
import csv
import datetime
import os
import sys
import tomllib

from marllb import result_rows
from marllb.tools import bench_compare, checkout, version

PROG = "marllb-bench-goals"
ROW_COLUMNS = ("date", "bench_git_commit", "bench_cpu_model", "bench_date", "python_git_commit", "goal", "source",
               "value", "floor", "ratio", "limit", "unit", "verdict")


class GoalError(Exception):
    pass


def load_goals(path):
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise GoalError(f"cannot read {path}: {e.strerror}")
    except tomllib.TOMLDecodeError as e:
        raise GoalError(f"{path}: {e}")
    goals = doc.get("goal", [])
    for g in goals:
        if not isinstance(g.get("id"), str) or "value" not in g or ("limit_ns" in g) == ("limit_ratio" in g):
            raise GoalError(f"{path}: goal {g.get('id', g)!r} needs an id, a value and one of limit_ns or limit_ratio")
        if "limit_ratio" in g and "floor" not in g:
            raise GoalError(f"{path}: goal {g['id']!r} has a limit_ratio and no floor to divide by")
    return goals


def load_python(path):
    """{case: p50_ns} of the newest run (date) in bench_python.py's CSV."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise GoalError(f"cannot read {path}: {e.strerror}")
    if not rows or not {"case", "p50_ns", "date"} <= set(rows[0]):
        raise GoalError(f"{path} is not a bench_python.py CSV (columns case, p50_ns, date); "
                        "make it with /usr/bin/python3 bench/bench_python.py --csv FILE")
    newest = max(r["date"] for r in rows)
    run = [r for r in rows if r["date"] == newest]
    try:
        return {r["case"]: float(r["p50_ns"]) for r in run if r["p50_ns"]}, run[0]
    except ValueError as e:
        raise GoalError(f"{path}: a p50_ns that is not a number ({e})")


def read(key, bench, python):
    """The value of one key ("python:case:p50_ns" or a bench.csv key), or GoalError naming it."""
    if key.startswith("python:"):
        case = key.split(":")[1]
        if case not in python:
            raise GoalError(f"the Python CSV has no case {case!r} in its newest run: run bench/bench_python.py of this tree")
        return python[case]
    v = bench_compare.value(bench, key)
    if v is None:
        raise GoalError(f"{bench.path} has no {key}: run scripts/bench.sh (all three suites) of this tree")
    return v


def total(keys, bench, python):
    return sum(read(k, bench, python) for k in ([keys] if isinstance(keys, str) else keys))


def judge(goal, bench, python):
    """(value, floor, ratio, limit, unit, verdict) of one goal; value and floor in ns. A goal
    per server has its value divided, not its ratio: the ratio is of the whole call."""
    whole = read(goal["value"], bench, python)
    value = whole / goal.get("per", 1)
    floor = total(goal["floor"], bench, python) if "floor" in goal else None
    ratio = whole / floor if floor else None
    if "limit_ns" in goal:
        limit, unit, measured = goal["limit_ns"], "ns", value
    else:
        limit, unit, measured = goal["limit_ratio"], "x floor", ratio
    return value, floor, ratio, limit, unit, "ok" if measured is not None and measured <= limit else "miss"


def num(x, digits=3):
    """x to `digits` significant digits, never in exponent form (a table's and a CSV's)."""
    if x is None:
        return ""
    return f"{x:,.0f}" if abs(x) >= 10 ** digits else f"{float(f'{x:.{digits}g}'):g}"


def main(argv=None):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=version(PROG))
    p.add_argument("--bench", required=True, help="scripts/bench.sh's bench.csv")
    p.add_argument("--python", help="bench/bench_python.py's CSV (its newest run)")
    p.add_argument("--goals", default=os.path.join(checkout(), "bench", "goals.toml"), help="the goals (bench/goals.toml)")
    p.add_argument("--csv", help="append one row per goal here")
    a = p.parse_args(argv)
    if a.csv:
        problem = result_rows.csv_target_problem(a.csv, ROW_COLUMNS, make_folder=True)
        if problem:
            p.error(f"--csv {a.csv}: {problem}")
    try:
        goals = load_goals(a.goals)
        bench = bench_compare.load_csv(a.bench)
        python, python_row = load_python(a.python) if a.python else ({}, {})
        results = []
        for g in goals:
            if any(str(k).startswith("python:") for k in [g["value"], *([g.get("floor")] if isinstance(g.get("floor"), str)
                                                                          else g.get("floor", []))]) and not a.python:
                continue
            results.append((g, judge(g, bench, python)))
    except (GoalError, bench_compare.GateError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    meta = {k: ", ".join(v) for k, v in bench.meta.items()}
    print(f"# bench {a.bench}: commit {meta.get('git_commit', '?')}, {meta.get('cpu_model', '?')}, {meta.get('date', '?')}")
    if a.python:
        print(f"# python {a.python}: commit {python_row.get('git_commit', '?')}, {python_row.get('cpu_model', '?')}, "
              f"{python_row.get('date', '?')}")
    else:
        print("# no --python: the Python goals are left out")
    print("| goal | source | value | floor | value / floor (a goal per server: its whole call's) | goal | verdict |")
    print("|---|---|---:|---:|---:|---|---|")
    rows = []
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for g, (value, floor, ratio, limit, unit, verdict) in results:
        goal = f"<= {limit:g} ns" if unit == "ns" else f"<= {limit:g}x"
        print(f"| `{g['id']}` | {g['source']} | {num(value)} ns | {num(floor)} ns | {num(ratio)}x | {goal} | {verdict} |")
        rows.append({"date": now, "bench_git_commit": meta.get("git_commit", ""), "bench_cpu_model": meta.get("cpu_model", ""),
                     "bench_date": meta.get("date", ""), "python_git_commit": python_row.get("git_commit", ""),
                     "goal": g["id"], "source": g["source"], "value": num(value, 4).replace(",", ""), "floor": num(floor, 4).replace(",", ""),
                     "ratio": num(ratio, 4).replace(",", ""), "limit": f"{limit:g}", "unit": unit, "verdict": verdict})
    missed = [r["goal"] for r in rows if r["verdict"] == "miss"]
    print(f"{len(rows) - len(missed)} of {len(rows)} goals met" + (f"; missed: {', '.join(missed)}" if missed else ""))
    if a.csv:
        result_rows.append_rows(a.csv, rows, ROW_COLUMNS)
        print(f"{len(rows)} rows appended to {a.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
