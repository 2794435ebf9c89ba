"""marllb.tools.oneway_series: a run's ratios are the median of per-repetition ratios, a goal is met
only at or under its limit, and a bench CSV without a transport is an error, not a row."""
import csv
import subprocess
import sys

HEADER = ["run_id", "date", "git_commit", "cpu_model", "kernel", "cpus", "cpu_relation", "binary", "benchmark", "metric",
          "unit", "repetitions", "median", "min", "max", "stddev", "cv", "values"]


def bench_csv(path, marllb, floor, iceoryx=None):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for name, vals in (("BM_ObsOneWay/marllb_shm", marllb), ("BM_CopyFloorOneWay", floor), ("BM_ObsOneWay/iceoryx", iceoryx)):
            if vals is None:
                continue
            w.writerow(["r1", "d", "abc", "cpu", "k", "0,1", "same_package", "bench_ipc", name, "p50_ns", "ns", len(vals),
                        sorted(vals)[len(vals) // 2], min(vals), max(vals), 0, 0, " ".join(str(v) for v in vals)])


def run(*args):
    return subprocess.run([sys.executable, "-m", "marllb.tools.oneway_series", *args], capture_output=True, text=True)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_ratios_pair_repetitions_and_goals_are_met_at_the_limit(tmp_path):
    b = tmp_path / "bench.csv"
    # Per repetition marllb/floor = 1.3, 1.2, 2.0 -> median 1.3 (met at the limit); /iceoryx = 0.26, 0.3, 0.5 -> 0.3.
    bench_csv(b, [260, 240, 400], [200, 200, 200], [1000, 800, 800])
    out = tmp_path / "series.csv"
    r = run("row", "--bench-csv", str(b), "--run", "1", "--series", "s", "--csv", str(out))
    assert r.returncode == 0, r.stderr
    row = rows(out)[0]
    assert float(row["ratio_floor"]) == 1.3 and row["floor_met"] == "yes"
    assert float(row["ratio_floor_min"]) == 1.2 and float(row["ratio_floor_max"]) == 2.0
    assert float(row["ratio_iceoryx"]) == 0.3 and row["iceoryx_met"] == "yes"


def test_a_ratio_over_its_goal_is_not_met_and_the_summary_counts_runs(tmp_path):
    out = tmp_path / "series.csv"
    for k, m in enumerate([250, 300, 270], start=1):  # ratios to the floor 1.25, 1.5, 1.35
        b = tmp_path / f"b{k}.csv"
        bench_csv(b, [m] * 3, [200] * 3, [1000] * 3)
        assert run("row", "--bench-csv", str(b), "--run", str(k), "--series", "s", "--csv", str(out)).returncode == 0
    assert [r["floor_met"] for r in rows(out)] == ["yes", "no", "no"]
    s = run("summary", "--csv", str(out), "--series", "s")
    assert s.returncode == 0
    assert "goal <= 1.3 met in 1 of 3" in s.stdout
    assert "goal <= 0.3 met in 3 of 3" in s.stdout


def test_a_bench_csv_without_iceoryx_is_an_error_and_writes_no_row(tmp_path):
    b = tmp_path / "bench.csv"
    bench_csv(b, [250] * 3, [200] * 3)
    out = tmp_path / "series.csv"
    r = run("row", "--bench-csv", str(b), "--run", "1", "--series", "s", "--csv", str(out))
    assert r.returncode != 0 and "lacks BM_ObsOneWay/iceoryx" in r.stderr
    assert not out.exists()


def test_unequal_repetitions_or_another_header_are_refused(tmp_path):
    b = tmp_path / "bench.csv"
    bench_csv(b, [250] * 9, [200] * 3, [1000] * 9)
    out = tmp_path / "series.csv"
    r = run("row", "--bench-csv", str(b), "--run", "1", "--series", "s", "--csv", str(out))
    assert r.returncode != 0 and "9 against 3 repetitions" in r.stderr and not out.exists()
    out.write_text("a,b,c\n1,2,3\n")
    bench_csv(b, [250] * 3, [200] * 3, [1000] * 3)
    r = run("row", "--bench-csv", str(b), "--run", "1", "--series", "s", "--csv", str(out))
    assert r.returncode != 0 and "other columns" in r.stderr
    assert out.read_text() == "a,b,c\n1,2,3\n"
