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
import math
import os
import sys

from marllb import result_rows
from marllb.tools import bench_compare, checkout, version

PROG = "marllb-bench-goals"
ROW_COLUMNS = ("date", "bench_git_commit", "bench_cpu_model", "bench_date", "python_git_commit", "goal", "source",
               "value", "floor", "ratio", "limit", "unit", "verdict")


class GoalError(Exception):
    pass


KEYS = {"id": str, "source": str, "what": str, "value": str, "floor": (str, list), "per": int,
        "limit_ns": (int, float), "limit_ratio": (int, float)}


def check_key(path, gid, key):
    """A value or floor key is "binary:benchmark:metric" or "python:case:p50_ns"."""
    parts = key.split(":")
    if key.startswith("python:") and (len(parts) != 3 or not parts[1] or parts[2] != "p50_ns"):
        raise GoalError(f"{path}: goal {gid!r}: {key!r} is not python:CASE:p50_ns (the Python CSV has p50_ns only)")
    if not key.startswith("python:") and (len(parts) < 3 or not all(parts)):
        raise GoalError(f"{path}: goal {gid!r}: {key!r} is not binary:benchmark:metric as bench.csv names it")


def floor_keys(goal):
    """A goal's floor as a list of keys (none, one, or the ones summed)."""
    floor = goal.get("floor", [])
    return [floor] if isinstance(floor, str) else floor


def load_goals(path):
    """The goals of a goals file, each checked: its keys and their types, one limit, a floor for a
    ratio, value and floor keys of the two CSVs' forms; ids unique; at least one goal."""
    doc = bench_compare.load_toml(path, "goals file")
    goals = doc.get("goal")
    if set(doc) != {"goal"} or not isinstance(goals, list) or not goals:
        raise GoalError(f"{path}: give the goals as [[goal]] tables and nothing else (it has {', '.join(doc) or 'nothing'})")
    seen = set()
    for g in goals:
        if not isinstance(g, dict):
            raise GoalError(f"{path}: a goal is a [[goal]] table, not {g!r}")
        gid = g.get("id")
        if not isinstance(gid, str) or not gid or gid in seen:
            raise GoalError(f"{path}: every goal needs an id of its own (got {gid!r})")
        seen.add(gid)
        for k, v in g.items():
            if k not in KEYS:
                raise GoalError(f"{path}: goal {gid!r}: unknown key {k!r} (known: {', '.join(KEYS)})")
            if not isinstance(v, KEYS[k]) or isinstance(v, bool):
                raise GoalError(f"{path}: goal {gid!r}: {k} = {v!r} is not a {getattr(KEYS[k], '__name__', 'number')}")
        if "value" not in g or "source" not in g or ("limit_ns" in g) == ("limit_ratio" in g):
            raise GoalError(f"{path}: goal {gid!r} needs a source, a value and one of limit_ns or limit_ratio")
        if "floor" in g and (not floor_keys(g) or not all(isinstance(k, str) for k in floor_keys(g))):
            raise GoalError(f"{path}: goal {gid!r}: floor is a key or a non-empty list of keys")
        if "limit_ratio" in g and "floor" not in g:
            raise GoalError(f"{path}: goal {gid!r} has a limit_ratio and no floor to divide by")
        if g.get("per", 1) < 1 or g.get("limit_ns", g.get("limit_ratio")) <= 0:
            raise GoalError(f"{path}: goal {gid!r}: per and the limit must be > 0")
        for k in [g["value"], *floor_keys(g)]:
            check_key(path, gid, k)
    return goals


def load_python(path):
    """{case: p50_ns} of the newest run (date) in bench_python.py's CSV, and that run's first row."""
    make = "make it with /usr/bin/python3 bench/bench_python.py --csv FILE"
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = [(reader.line_num, r) for r in reader]
            header = reader.fieldnames or []
    except OSError as e:
        raise GoalError(f"cannot read {path}: {e.strerror}")
    except (UnicodeDecodeError, csv.Error) as e:
        raise GoalError(f"{path} is not a CSV ({e}); {make}")
    if not {"case", "p50_ns", "date"} <= set(header):
        raise GoalError(f"{path} is not a bench_python.py CSV (columns case, p50_ns, date); {make}")
    if not rows:
        raise GoalError(f"{path} has a header and no rows: no read was timed; {make}")
    for line, r in rows:
        if None in r or None in r.values():
            raise GoalError(f"{path}:{line}: {len(r) - (None in r)} fields where the header has {len(header)} (cut short?)")
    newest = max(r["date"] for _, r in rows)
    cases = {}
    for line, r in rows:
        if r["date"] != newest:
            continue
        if r["case"] in cases:
            raise GoalError(f"{path}:{line}: a second row for case {r['case']!r} in the run of {newest}")
        try:
            cases[r["case"]] = float(r["p50_ns"]) if r["p50_ns"] else None
        except ValueError:
            raise GoalError(f"{path}:{line}: p50_ns of case {r['case']!r} is {r['p50_ns']!r}, not a number")
    return cases, next(r for _, r in rows if r["date"] == newest)


def read(key, bench, python):
    """The value of one key ("python:case:p50_ns" or a bench.csv key): a finite number > 0, or
    GoalError naming the key (a value of 0 or below, or not finite, judges nothing)."""
    if key.startswith("python:"):
        case = key.split(":")[1]
        if case not in python:
            raise GoalError(f"the Python CSV has no case {case!r} in its newest run: run bench/bench_python.py of this tree")
        v = python[case]
        if v is None:
            raise GoalError(f"the Python CSV's case {case!r} has no p50_ns in its newest run: run bench/bench_python.py again")
    else:
        v = bench_compare.value(bench, key)
        if v is None:
            raise GoalError(f"{bench.path} has no {key}: run scripts/bench.sh (all three suites) of this tree")
    if not (0 < v < math.inf):
        raise GoalError(f"{key} is {v!r}: a time must be finite and above 0 to judge a goal on; run the benchmark again")
    return v


def judge(goal, bench, python):
    """(value, floor, ratio, limit, unit, verdict) of one goal; value and floor in ns. A goal
    per server has its value divided, not its ratio: the ratio is of the whole call."""
    whole = read(goal["value"], bench, python)
    value = whole / goal.get("per", 1)
    floor = sum(read(k, bench, python) for k in floor_keys(goal)) if "floor" in goal else None
    ratio = None if floor is None else whole / floor
    if "limit_ns" in goal:
        limit, unit, measured = goal["limit_ns"], "ns", value
    else:
        limit, unit, measured = goal["limit_ratio"], "x floor", ratio
    return value, floor, ratio, limit, unit, "ok" if measured <= limit else "miss"


def num(x, digits=3, sep=","):
    """x to `digits` significant digits, never in exponent form: the table's (thousands
    separated) and, with digits=4 and sep="", the CSV's."""
    if x is None:
        return ""
    return f"{x:,.0f}".replace(",", sep) if abs(x) >= 10 ** digits else f"{float(f'{x:.{digits}g}'):g}"


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
            if not a.python and any(k.startswith("python:") for k in [g["value"], *floor_keys(g)]):
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
                     "goal": g["id"], "source": g["source"], "value": num(value, 4, ""), "floor": num(floor, 4, ""),
                     "ratio": num(ratio, 4, ""), "limit": f"{limit:g}", "unit": unit, "verdict": verdict})
    missed = [r["goal"] for r in rows if r["verdict"] == "miss"]
    print(f"{len(rows) - len(missed)} of {len(rows)} goals met" + (f"; missed: {', '.join(missed)}" if missed else ""))
    if a.csv:
        result_rows.append_rows(a.csv, rows, ROW_COLUMNS)
        print(f"{len(rows)} rows appended to {a.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
