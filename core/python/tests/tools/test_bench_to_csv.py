"""marllb.tools.bench_to_csv on a frozen Google Benchmark JSON: medians over repetitions, counters as
metrics, manual-time names shortened, a skipped benchmark kept as an 'unavailable' row."""
import csv
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = [sys.executable, "-m", "marllb.tools.bench_to_csv"]


def test_converts_repetitions_to_medians(tmp_path):
    out = tmp_path / "out.csv"
    r = subprocess.run([*TOOL, str(out), os.path.join(HERE, "fixtures", "bench_ipc_sample.json")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = {(x["benchmark"], x["metric"]): x for x in csv.DictReader(open(out))}
    p50 = rows[("BM_ObsOneWay/marllb_shm", "p50_ns")]
    assert float(p50["median"]) == 300.0  # median of 290, 300, 500
    assert p50["repetitions"] == "3"
    assert float(p50["max"]) == 500.0
    assert rows[("BM_ObsOneWay/marllb_shm", "time_ns")]["unit"] == "ns"
    assert p50["git_commit"] == "abc123"
    assert p50["cpu_relation"] == "same_package"
    assert rows[("BM_ObsOneWay/iceoryx", "unavailable")]["unit"].startswith("iceoryx unavailable")


def test_rejects_what_is_not_json(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("not json")
    r = subprocess.run([*TOOL, str(tmp_path / "o.csv"), str(bad)], capture_output=True, text=True)
    assert r.returncode != 0
    assert "is not Google Benchmark JSON" in r.stderr


def test_every_row_carries_the_host_metadata(tmp_path):
    out = tmp_path / "out.csv"
    r = subprocess.run([*TOOL, str(out), os.path.join(HERE, "fixtures", "bench_ipc_sample.json")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(out)))
    assert rows
    assert all(x["cpu_model"] == "AMD EPYC" and x["kernel"] == "6.1" and x["git_commit"] == "abc123" for x in rows)


def test_refuses_json_without_host_metadata(tmp_path):
    doc = json.load(open(os.path.join(HERE, "fixtures", "bench_ipc_sample.json")))
    del doc["context"]["cpu_model"]
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(doc))
    r = subprocess.run([*TOOL, str(tmp_path / "o.csv"), str(bare)], capture_output=True, text=True)
    assert r.returncode != 0
    assert "has no cpu_model in its context" in r.stderr
    assert not (tmp_path / "o.csv").exists()


def test_rounds_of_one_binary_are_merged_into_one_sample(tmp_path):
    # the gate's interleaved rounds: two JSONs of bench_ipc become one row per metric
    sample = os.path.join(HERE, "fixtures", "bench_ipc_sample.json")
    doc = json.load(open(sample))
    for b in doc["benchmarks"]:
        for k in ("p50_ns", "real_time"):
            if k in b:
                b[k] = b[k] * 10  # the second round's values, told apart
    second = tmp_path / "round2.json"
    second.write_text(json.dumps(doc))
    out = tmp_path / "out.csv"
    r = subprocess.run([*TOOL, str(out), sample, str(second)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(out)))
    keys = [(x["benchmark"], x["metric"]) for x in rows]
    assert len(keys) == len(set(keys))  # one row each, the unavailable one too
    p50 = next(x for x in rows if (x["benchmark"], x["metric"]) == ("BM_ObsOneWay/marllb_shm", "p50_ns"))
    assert p50["repetitions"] == "6"
    assert [float(v) for v in p50["values"].split()] == [290, 300, 500, 2900, 3000, 5000]


def test_rounds_from_two_hosts_are_refused(tmp_path):
    sample = os.path.join(HERE, "fixtures", "bench_ipc_sample.json")
    doc = json.load(open(sample))
    doc["context"]["cpu_model"] = "Intel Xeon"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(doc))
    r = subprocess.run([*TOOL, str(tmp_path / "o.csv"), sample, str(other)], capture_output=True, text=True)
    assert r.returncode != 0 and "differ in cpu_model" in r.stderr
    assert not (tmp_path / "o.csv").exists()
