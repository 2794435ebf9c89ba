"""scripts/bench_gate.sh end to end on fake bench binaries (fixtures/fake_bench): the A/B
rounds interleave candidate and reference (ABBA order, 9 repetitions per side), a slower
candidate fails and is retried once, and without a reference the gate falls back to a
baseline of this CPU or, with none, judges only the exact rules and says so."""
import os
import re
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FAKE = os.path.join(HERE, "fixtures", "fake_bench", "fake_bench.py")


def fake_tree(path, factor=1.0, torn=0, cpu="Fake CPU"):
    """A build tree whose bench/bench_core and bench/bench_ipc are the fake."""
    bench = path / "bench"
    bench.mkdir(parents=True)
    for name in ("bench_core", "bench_ipc"):
        shutil.copy(FAKE, bench / name)
    (bench / "factor").write_text(str(factor))
    (bench / "torn").write_text(str(torn))
    (bench / "cpu").write_text(cpu)
    return str(path)


def gate(root, *args, log):
    env = dict(os.environ, FAKE_BENCH_LOG=str(log))
    return subprocess.run(["bash", os.path.join(root, "scripts", "bench_gate.sh"), *args],
                          capture_output=True, text=True, env=env, timeout=120)


def runs(log):
    return [l.split() for l in open(log).read().splitlines()] if os.path.exists(log) else []


def test_ab_rounds_interleave_and_unchanged_code_passes(tmp_path):
    cand, ref = fake_tree(tmp_path / "cand"), fake_tree(tmp_path / "ref")
    log = tmp_path / "log"
    r = gate(ROOT, "--build", cand, "--reference-build", ref, "--suites", "core", "--rules", "publish_vs_word_copy",
             log=log)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("gate: A/B on this machine")
    order = [t for t, _, _ in runs(log)]
    assert order == ["cand", "ref", "ref", "cand", "cand", "ref"]  # ABBA..: neither side always first
    assert all(int(n) == 3 for _, _, n in runs(log))
    assert "same CPU model on both sides: Fake CPU" in r.stdout
    assert re.search(r"^host: other processes used \d+ % of the \d+ CPUs during the suites", r.stdout, re.M)
    line = next(l for l in r.stdout.splitlines() if l.startswith("publish_vs_word_copy"))
    p = float(line.split()[4])
    assert p > 0.01  # 9 against 9 repetitions merged from the rounds, interleaved: no separation


def test_ab_a_slower_candidate_fails_twice_and_is_named(tmp_path):
    cand, ref = fake_tree(tmp_path / "cand", factor=2.0), fake_tree(tmp_path / "ref")
    log = tmp_path / "log"
    r = gate(ROOT, "--build", cand, "--reference-build", ref, "--suites", "core", "--rules", "publish_vs_word_copy",
             log=log)
    assert r.returncode == 1 and "GATE FAILED: publish_vs_word_copy" in r.stdout
    assert len(runs(log)) == 12  # the failing comparison ran once more from scratch
    assert "gate failed on try 1 of 2" in r.stderr


def copy_root(tmp_path, baseline=None, name=None):
    """The scripts and gate file without git history: no reference can be built."""
    root = tmp_path / "clone"
    shutil.copytree(os.path.join(ROOT, "scripts"), root / "scripts", ignore=shutil.ignore_patterns("tests", "__pycache__"))
    (root / "bench").mkdir()
    shutil.copy(os.path.join(ROOT, "bench", "gate.toml"), root / "bench")
    (root / "bench" / "gate-reference").write_text("0" * 40 + "\n")
    if baseline:
        (root / "results" / "bench" / "baselines").mkdir(parents=True)
        shutil.copy(baseline, root / "results" / "bench" / "baselines" / f"{name}.csv")
    return str(root)


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


@pytest.mark.parametrize("torn,rc", [(0, 0), (1, 1)])
def test_without_reference_or_baseline_only_the_exact_rules_gate(tmp_path, torn, rc):
    root = copy_root(tmp_path)
    cand = fake_tree(tmp_path / "cand", factor=5.0, torn=torn, cpu=cpu_model())
    r = gate(root, "--build", cand, "--suites", "core,ipc", "--tries", "1", log=tmp_path / "log")
    assert r.returncode == rc, r.stdout + r.stderr
    assert "not in this clone's history" in r.stderr
    assert r.stdout.startswith(f"gate: no baseline for {cpu_model()}")
    pub = next(l for l in r.stdout.splitlines() if l.startswith("publish_vs_word_copy"))
    assert "SKIP" in pub and f"no baseline for {cpu_model()}" in pub  # 5x slower, not judged
    assert ("GATE FAILED: obs_torn" in r.stdout) == bool(torn)


def test_without_reference_a_baseline_of_this_cpu_is_used(tmp_path):
    # a baseline the fake made, kept under this CPU model's name as the fallback looks for it
    made = tmp_path / "made"
    fake_tree(made / "tree", cpu=cpu_model())
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "bench.sh"), "--build", str(made / "tree"), "--out",
                    str(made / "out"), "--suites", "core"], check=True, capture_output=True)
    slug = re.sub(r"^-+|-+$", "", re.sub(r"[^a-z0-9]+", "-", re.sub(r"\((r|tm)\)", "", cpu_model().lower())))
    root = copy_root(tmp_path, baseline=str(made / "out" / "bench.csv"), name=slug)
    cand = fake_tree(tmp_path / "cand", factor=2.0, cpu=cpu_model())
    r = gate(root, "--build", cand, "--suites", "core", "--tries", "1", "--rules", "publish_vs_word_copy",
             log=tmp_path / "log")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"against the baseline CSV {root}/results/bench/baselines/{slug}.csv" in r.stdout
    assert "GATE FAILED: publish_vs_word_copy" in r.stdout


@pytest.mark.parametrize("args,says", [
    (["--reference", "no-such-commit-xyz"], "not a commit of this clone"),
    (["--reference", "HEAD", "--baseline", "x.csv"], "two different comparisons"),
    (["--rounds", "0"], "not a positive count"),
    (["--out", "x"], "set by the gate itself"),
])
def test_bad_options_are_exit_2_with_what_to_do(tmp_path, args, says):
    r = gate(ROOT, *args, log=tmp_path / "log")
    assert r.returncode == 2 and says in r.stderr
    assert not runs(tmp_path / "log")


def test_a_host_kept_busy_by_other_processes_is_said_so(tmp_path):
    cand, ref = fake_tree(tmp_path / "cand"), fake_tree(tmp_path / "ref")
    busy = [subprocess.Popen(["/usr/bin/python3", "-c", "import time\nt = time.time()\nwhile time.time() - t < 60: pass"])
            for _ in range(os.cpu_count() or 2)]
    try:
        r = gate(ROOT, "--build", cand, "--reference-build", ref, "--suites", "core", "--rules", "publish_vs_word_copy",
                 log=tmp_path / "log")
    finally:
        for p in busy:  # stopped by pid
            p.kill()
            p.wait()
    share = int(re.search(r"^host: other processes used (\d+) %", r.stdout, re.M).group(1))
    assert share >= 25 and "HOST BUSY" in r.stdout, r.stdout


@pytest.mark.parametrize("side,rc", [("cand", 1), ("ref", 2)])
def test_a_benchmark_that_hangs_ends_the_gate_within_its_timeout(tmp_path, side, rc):
    trees = {"cand": fake_tree(tmp_path / "cand"), "ref": fake_tree(tmp_path / "ref")}
    (tmp_path / side / "bench" / "hang").write_text("")
    r = gate(ROOT, "--build", trees["cand"], "--reference-build", trees["ref"], "--suites", "core",
             "--rules", "publish_vs_word_copy", "--round-timeout", "3", log=tmp_path / "log")
    assert r.returncode == rc and "did not end within 3 s" in r.stderr, r.stderr
