"""The regression gate on frozen CSV fixtures: noise passes, a real regression fails and is
named, exact counters are exact, missing data fails, bad input is a clear error."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import bench_compare  # noqa: E402

FIX = os.path.join(HERE, "fixtures")
GATE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "bench", "gate.toml")


def run(candidate, baseline="baseline"):
    return bench_compare.main([os.path.join(FIX, baseline + ".csv"), os.path.join(FIX, candidate + ".csv"),
                               "--gate", GATE])


def verdicts(candidate):
    gate = bench_compare.load_gate(GATE)
    base = bench_compare.load_csv(os.path.join(FIX, "baseline.csv"))
    cand = bench_compare.load_csv(os.path.join(FIX, candidate + ".csv"))
    return {r[0]: r[4] for r in bench_compare.judge(base, cand, gate)}


def test_baseline_against_itself_passes():
    assert run("baseline") == 0


@pytest.mark.parametrize("i", range(5))
def test_run_to_run_noise_passes(i):
    # absolute times moved by up to 4.5x (the host moved the vCPUs), ratios by what such runs show
    assert run(f"noise_{i}") == 0


def test_a_slower_machine_with_the_same_ratios_passes():
    assert run("slower_machine") == 0


def test_a_writer_twice_as_slow_fails_and_is_named(capsys):
    assert run("regressed_writer") == 1
    out = capsys.readouterr().out
    assert "GATE FAILED: publish_vs_word_copy" in out
    assert verdicts("regressed_writer")["publish_vs_word_copy"] == "FAIL"
    assert verdicts("regressed_writer")["read_newest_vs_word_copy"] == "PASS"


def test_one_torn_message_fails_the_exact_rule():
    assert run("torn_accepted") == 1
    assert verdicts("torn_accepted")["obs_torn"] == "FAIL"


def test_missing_benchmarks_fail_rather_than_pass_silently():
    assert run("missing_full_loop") == 1
    v = verdicts("missing_full_loop")
    assert v["full_loop_p50_vs_cacheline"] == "FAIL"
    assert v["full_loop_lost"] == "FAIL"


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert bench_compare.main([str(bad), os.path.join(FIX, "baseline.csv"), "--gate", GATE]) == 2
    assert "is not a benchmark CSV" in capsys.readouterr().err
    assert bench_compare.main([os.path.join(FIX, "nope.csv"), os.path.join(FIX, "baseline.csv"), "--gate", GATE]) == 2
    gate = tmp_path / "gate.toml"
    gate.write_text("[ratio.x]\nnumerator = 'a'\n")
    assert bench_compare.main([os.path.join(FIX, "baseline.csv"), os.path.join(FIX, "baseline.csv"), "--gate", str(gate)]) == 2
    assert "lacks 'denominator'" in capsys.readouterr().err


def test_command_line_exit_codes():
    script = os.path.join(os.path.dirname(HERE), "bench_compare.py")
    ok = subprocess.run([sys.executable, script, os.path.join(FIX, "baseline.csv"),
                         os.path.join(FIX, "noise_0.csv")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    bad = subprocess.run([sys.executable, script, os.path.join(FIX, "baseline.csv"),
                          os.path.join(FIX, "regressed_writer.csv")], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "publish_vs_word_copy" in bad.stdout


def test_min_statistic_reads_the_fastest_repetition(tmp_path):
    gate = tmp_path / "gate.toml"
    gate.write_text('[ratio.p]\nnumerator = "bench_core:BM_PublishObservation:time_ns"\n'
                    'denominator = "bench_core:BM_Memcpy/bytes:2848:time_ns"\nmax_growth = 1.5\nstatistic = "min"\n')
    base = bench_compare.load_csv(os.path.join(FIX, "baseline.csv"))
    (name, b, c, growth, verdict, detail), = bench_compare.judge(base, base, bench_compare.load_gate(str(gate)))
    row = lambda bm: base["bench_core:" + bm + ":time_ns"]
    assert b == float(row("BM_PublishObservation")["min"]) / float(row("BM_Memcpy/bytes:2848")["min"])
    assert verdict == "PASS" and "(mins)" in detail
