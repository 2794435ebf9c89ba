"""marllb-bench-goals: each goal of bench/goals.toml judged on one run's CSVs, ok within its
limit and miss over it, the floor reported beside it; a missing benchmark or a file that is not
a CSV of the suite is a user error (exit 2) naming it, never a goal met or missed."""
import csv
import os
import subprocess
import sys

import pytest

from marllb.tools import bench_goals

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
GOALS = os.path.join(ROOT, "bench", "goals.toml")
TOOL = [sys.executable, "-m", "marllb.tools.bench_goals", "--goals", GOALS]


def write_bench(path, values):
    """A bench CSV (marllb-bench-to-csv's columns) with one median per key."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["git_commit", "cpu_model", "date", "binary", "benchmark", "metric", "unit", "repetitions", "median",
                    "min", "max", "values"])
        for key, v in sorted(values.items()):
            binary, rest = key.split(":", 1)
            bench, metric = rest.rsplit(":", 1)
            w.writerow(["abc123", "Test CPU", "2026-12-07", binary, bench, metric, "ns", 1, v, v, v, v])
    return str(path)


def write_python(path, runs):
    """bench_python.py's CSV: runs is [(date, {case: p50_ns})]."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "p50_ns", "date", "git_commit", "cpu_model"])
        for date, cases in runs:
            for case, v in cases.items():
                w.writerow([case, v, date, "abc123", "Test CPU"])
    return str(path)


def floors_of(g):
    floor = g.get("floor", [])
    return [floor] if isinstance(floor, str) else floor


def good_values():
    """Values under every goal: an absolute goal's value at half its limit; a ratio goal's
    floors set so that its value is half its limit (a value may be shared by goals, a floor not)."""
    goals = bench_goals.load_goals(GOALS)
    every = {k: 10.0 for g in goals for k in [g["value"], *floors_of(g)]}
    for g in goals:
        if "limit_ns" in g:
            every[g["value"]] = g["limit_ns"] / 2 * g.get("per", 1)
    for g in goals:
        if "limit_ratio" in g:
            for k in floors_of(g):
                every[k] = every[g["value"]] / (g["limit_ratio"] / 2) / len(floors_of(g))
    bench = {k: v for k, v in every.items() if not k.startswith("python:")}
    return goals, bench, {k.split(":")[1]: v for k, v in every.items() if k.startswith("python:")}


def run(tmp_path, bench, python=None, *extra):
    args = ["--bench", write_bench(tmp_path / "bench.csv", bench)]
    if python is not None:
        args += ["--python", write_python(tmp_path / "py.csv", python)]
    return subprocess.run(TOOL + args + list(extra), capture_output=True, text=True, timeout=60)


def test_every_goal_within_its_limit_is_ok_and_one_over_is_a_miss_named_in_the_summary(tmp_path):
    goals, bench, python = good_values()
    r = run(tmp_path, bench, [("2026-12-07T01:00:00Z", python)], "--csv", str(tmp_path / "rows.csv"))
    assert r.returncode == 0, r.stderr
    assert f"{len(goals)} of {len(goals)} goals met" in r.stdout
    with open(tmp_path / "rows.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["goal"] for row in rows] == [g["id"] for g in goals] and {row["verdict"] for row in rows} == {"ok"}
    # each goal pushed to 1.1x its limit misses, alone: an absolute goal by its value, a ratio
    # goal by its floors (a value may be shared by two goals)
    for g in goals:
        b, p = dict(bench), dict(python)
        for k in [g["value"]] if "limit_ns" in g else floors_of(g):
            if k.startswith("python:"):
                p[k.split(":")[1]] *= 2.2 if "limit_ns" in g else 1 / 2.2
            else:
                b[k] *= 2.2 if "limit_ns" in g else 1 / 2.2
        r = run(tmp_path, b, [("2026-12-07T01:00:00Z", p)])
        assert r.returncode == 0 and f"missed: {g['id']}" in r.stdout and f"{len(goals) - 1} of {len(goals)}" in r.stdout, r.stdout


def test_the_rows_carry_each_goals_numbers_and_a_value_at_its_limit_is_ok(tmp_path):
    goals, bench, python = good_values()
    g = next(g for g in goals if g["id"] == "write_action_vs_word_copy")
    bench[g["value"]] = 60.0
    bench[g["floor"]] = 20.0  # exactly 3x: within a limit of 3x
    r = run(tmp_path, bench, [("2026-12-07T01:00:00Z", python)], "--csv", str(tmp_path / "rows.csv"))
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "rows.csv") as f:
        row = next(x for x in csv.DictReader(f) if x["goal"] == g["id"])
    assert (row["value"], row["floor"], row["ratio"], row["limit"], row["verdict"]) == ("60", "20", "3", "3", "ok"), row
    k = next(g for g in goals if g["id"] == "python_read_kept")  # a floor of two cases: their sum
    with open(tmp_path / "rows.csv") as f:
        row = next(x for x in csv.DictReader(f) if x["goal"] == k["id"])
    assert float(row["floor"]) == python["numbers_kept"] + python["dicts_kept"]


def test_a_goal_per_server_divides_its_value_and_not_its_ratio(tmp_path):
    goals, bench, python = good_values()
    g = next(g for g in goals if g.get("per"))
    (v, floor, ratio, _, _, verdict), = [bench_goals.judge(g, write_and_load(tmp_path, bench), {})]
    assert v == bench[g["value"]] / g["per"] and ratio == bench[g["value"]] / floor and verdict == "ok"


def write_and_load(tmp_path, bench):
    from marllb.tools import bench_compare
    return bench_compare.load_csv(write_bench(tmp_path / "direct.csv", bench))


def test_the_newest_python_run_is_judged_and_without_it_the_python_goals_are_left_out(tmp_path):
    goals, bench, python = good_values()
    slow = {k: v * 100 for k, v in python.items()}
    r = run(tmp_path, bench, [("2026-12-07T02:00:00Z", python), ("2026-12-07T01:00:00Z", slow)])
    assert r.returncode == 0 and f"{len(goals)} of {len(goals)} goals met" in r.stdout, r.stdout
    r = run(tmp_path, bench, [("2026-12-07T01:00:00Z", python), ("2026-12-07T02:00:00Z", slow)])
    assert "missed: python_read_kept, python_read_arrays" in r.stdout, r.stdout
    r = run(tmp_path, bench)
    n_python = sum(1 for g in goals if g["value"].startswith("python:"))
    assert r.returncode == 0 and "Python goals are left out" in r.stdout
    assert f"{len(goals) - n_python} of {len(goals) - n_python} goals met" in r.stdout


def test_a_missing_benchmark_or_a_file_of_something_else_exits_2_naming_it(tmp_path):
    _, bench, python = good_values()
    gone = "bench_sim:BM_TableTouchBurst/flows:65536:ns_per_packet"
    r = run(tmp_path, {k: v for k, v in bench.items() if k != gone}, [("2026-12-07T01:00:00Z", python)])
    assert r.returncode == 2 and gone in r.stderr and "scripts/bench.sh" in r.stderr and r.stdout == "", r.stderr
    r = run(tmp_path, bench, [("2026-12-07T01:00:00Z", {k: v for k, v in python.items() if k != "dicts_kept"})])
    assert r.returncode == 2 and "'dicts_kept'" in r.stderr, r.stderr
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    r = subprocess.run(TOOL + ["--bench", write_bench(tmp_path / "b.csv", bench), "--python", str(other)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "not a bench_python.py CSV" in r.stderr, r.stderr
    r = subprocess.run(TOOL + ["--bench", str(other)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "not a benchmark CSV" in r.stderr, r.stderr


GOAL = '[[goal]]\nid = "x"\nsource = "s"\nvalue = "bench_core:A:time_ns"\n'


@pytest.mark.parametrize("bad, says", [
    ("floor 0", "must be finite and above 0"),
    ("floor inf", "must be finite and above 0"),
    ("value -64", "must be finite and above 0"),
    ("blank p50", "has no p50_ns"),
    ("short row", "fields where the header has"),
    ("second row", "a second row for case"),
    ("header only", "a header and no rows"),
    ("not utf-8", "is not a CSV"),
])
def test_a_number_that_judges_nothing_or_a_broken_python_csv_exits_2(tmp_path, bad, says):
    goals, bench, python = good_values()
    py = [("2026-12-07T01:00:00Z", python)]
    if bad == "floor 0":
        bench["bench_core:BM_Paired/write_action:floor_ns"] = 0.0
    elif bad == "floor inf":
        bench["bench_core:BM_Paired/write_action:floor_ns"] = float("inf")
    elif bad == "value -64":
        bench["bench_core:BM_ValidateAction/servers:64:time_ns"] = -64.0
    elif bad == "blank p50":
        python["dicts_kept"] = ""
    r = run(tmp_path, bench, py)
    if bad in ("short row", "second row", "header only", "not utf-8"):
        path = tmp_path / "py.csv"
        write_python(path, py)
        text = path.read_bytes()
        path.write_bytes({"short row": text + b"dicts_kept,5\n",
                          "second row": text + b"dicts_kept,5,2026-12-07T01:00:00Z,abc123,Test CPU\n",
                          "header only": text.split(b"\n")[0] + b"\n",
                          "not utf-8": text + b"\xff\xfe\n"}[bad])
        r = subprocess.run(TOOL + ["--bench", write_bench(tmp_path / "b.csv", bench), "--python", str(path)],
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_csv_it_cannot_write_is_refused_before_anything_and_makes_no_folder(tmp_path):
    _, bench, _ = good_values()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = subprocess.run(TOOL + ["--bench", write_bench(tmp_path / "b.csv", bench), "--csv", str(blocker / "sub" / "rows.csv")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "cannot make its folder" in r.stderr, r.stderr
    r = subprocess.run(TOOL + ["--bench", str(tmp_path / "missing.csv"), "--csv", str(tmp_path / "new" / "sub" / "rows.csv")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "missing.csv" in r.stderr and not (tmp_path / "new").exists(), r.stderr


@pytest.mark.parametrize("text, says", [
    (GOAL, "one of limit_ns or limit_ratio"),
    (GOAL + "limit_ratio = 2\n", "no floor"),
    (GOAL + "limit_ratio = 2\nfloor = []\n", "non-empty list"),
    (GOAL + "limit_ns = 0\n", "must be > 0"),
    (GOAL + "limit_ns = 1\nper = 0\n", "must be > 0"),
    (GOAL + "limit_ns = '1'\n", "is not a number"),
    (GOAL + "limit_rato = 2\n", "unknown key 'limit_rato'"),
    (GOAL + "limit_ns = 1\n" + GOAL + "limit_ns = 1\n", "an id of its own"),
    (GOAL.replace("bench_core:A:time_ns", "python:read:p90_ns") + "limit_ns = 1\n", "python:CASE:p50_ns"),
    (GOAL.replace("bench_core:A:time_ns", "BM_A") + "limit_ns = 1\n", "binary:benchmark:metric"),
    ('[goal]\nid = "x"\n', "[[goal]] tables"),
    ("", "[[goal]] tables"),
    ('[[goal]\n', "goals.toml"),
])
def test_a_bad_goals_file_exits_2_saying_what_is_wrong(tmp_path, text, says):
    goals = tmp_path / "goals.toml"
    goals.write_text(text)
    _, bench, _ = good_values()
    r = subprocess.run([sys.executable, "-m", "marllb.tools.bench_goals", "--goals", str(goals), "--bench",
                        write_bench(tmp_path / "b.csv", bench)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and says in r.stderr, r.stderr
