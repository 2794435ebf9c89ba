"""The regression gate on frozen CSV fixtures: noise passes, a real regression fails and is
named, exact counters are exact, missing data fails, bad input is a clear error."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
import bench_compare

FIX = os.path.join(HERE, "fixtures")
GATE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "bench", "gate.toml")


def run(candidate, baseline="baseline"):
    return bench_compare.main([os.path.join(FIX, baseline + ".csv"), os.path.join(FIX, candidate + ".csv"),
                               "--gate", GATE])


def verdicts(candidate):
    gate = bench_compare.load_gate(GATE)
    base = bench_compare.load_csv(os.path.join(FIX, "baseline.csv"))
    cand = bench_compare.load_csv(os.path.join(FIX, candidate + ".csv"))
    return {r[0]: r[5] for r in bench_compare.judge(base, cand, gate)}


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
    (name, b, c, growth, p, verdict, detail), = bench_compare.judge(base, base, bench_compare.load_gate(str(gate)))
    row = lambda bm: base["bench_core:" + bm + ":time_ns"]
    assert b == float(row("BM_PublishObservation")["min"]) / float(row("BM_Memcpy/bytes:2848")["min"])
    assert verdict == "PASS" and "(mins)" in detail


# The statistical rule: per-repetition ratios (the `values` column) and a one-sided U test.
def write_csv(path, reps):
    """A bench CSV with rows bench_core:BM_Op and BM_Base whose repetitions are `reps`."""
    fields = ["binary", "benchmark", "metric", "median", "min", "max", "values"]
    with open(path, "w") as f:
        f.write(",".join(fields) + "\n")
        for bm, values in reps.items():
            med = sorted(values)[len(values) // 2]
            f.write(f"bench_core,{bm},time_ns,{med},{min(values)},{max(values)},{' '.join(map(str, values))}\n")
    return str(path)


STAT_GATE = '[ratio.op]\nnumerator = "bench_core:BM_Op:time_ns"\ndenominator = "bench_core:BM_Base:time_ns"\nmax_growth = 1.3\n'
BASE_REPS = [100, 101, 102, 103, 104, 105, 106, 107, 108]


def judge_reps(tmp_path, cand_op):
    gate = tmp_path / "gate.toml"
    gate.write_text(STAT_GATE)
    base = write_csv(tmp_path / "b.csv", {"BM_Op": BASE_REPS, "BM_Base": [10] * 9})
    cand = write_csv(tmp_path / "c.csv", {"BM_Op": cand_op, "BM_Base": [10] * 9})
    (row,) = bench_compare.judge(bench_compare.load_csv(base), bench_compare.load_csv(cand),
                                 bench_compare.load_gate(str(gate)))
    return row


def test_exact_u_test_p_value_on_a_hand_computed_case():
    # 3 against 3, every candidate above every baseline value: 1 ordering of C(6,3) = 20.
    assert bench_compare.mann_whitney_greater([4, 5, 6], [1, 2, 3]) == 1 / 20
    # U = 8 of 9: the orderings with U >= 8 are 2 of 20.
    assert bench_compare.mann_whitney_greater([2.5, 5, 6], [1, 2, 3]) == 2 / 20
    assert bench_compare.mann_whitney_greater([1, 2, 3], [4, 5, 6]) == 1.0


def test_a_consistent_growth_in_every_repetition_fails(tmp_path):
    name, b, c, growth, p, verdict, detail = judge_reps(tmp_path, [1.5 * v for v in BASE_REPS])
    assert growth > 1.3 and p < 0.01 and verdict == "FAIL"


def test_a_growth_carried_by_some_repetitions_only_passes_and_says_so(tmp_path):
    # The median moved by 1.9x, but four repetitions sit where the baseline's do: not a
    # consistent shift, and the gate says it grew without failing.
    name, b, c, growth, p, verdict, detail = judge_reps(tmp_path, [99, 100, 101, 103, 190, 200, 210, 220, 230])
    assert growth > 1.3 and p >= 0.01 and verdict == "PASS"
    assert "not consistently" in detail


def test_a_small_consistent_growth_below_the_margin_passes(tmp_path):
    name, b, c, growth, p, verdict, detail = judge_reps(tmp_path, [1.2 * v for v in BASE_REPS])
    assert p < 0.01 and growth < 1.3 and verdict == "PASS"


def test_rules_option_judges_only_the_named_rules(capsys):
    assert bench_compare.main([os.path.join(FIX, "baseline.csv"), os.path.join(FIX, "regressed_writer.csv"),
                               "--gate", GATE, "--rules", "read_newest_vs_word_copy"]) == 0
    assert bench_compare.main([os.path.join(FIX, "baseline.csv"), os.path.join(FIX, "baseline.csv"),
                               "--gate", GATE, "--rules", "no_such_rule"]) == 2
    assert "no_such_rule" in capsys.readouterr().err


def test_each_side_s_nanoseconds_are_printed_beside_the_ratio(capsys):
    # Two machines: the ratio is judged, the nanoseconds of each side are shown to read it by.
    run("regressed_writer")
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("publish_vs_word_copy"))
    gate = bench_compare.load_gate(GATE)
    rule = gate["ratio"]["publish_vs_word_copy"]
    stat = rule.get("statistic", "median")
    for fixture in ("baseline", "regressed_writer"):
        table = bench_compare.load_csv(os.path.join(FIX, fixture + ".csv"))
        num, den = bench_compare.value(table, rule["numerator"], stat), bench_compare.value(table, rule["denominator"], stat)
        assert f"{bench_compare.fmt(num)} / {bench_compare.fmt(den)}" in line
    assert "baseline ns" in out.splitlines()[0] and "candidate ns" in out.splitlines()[0]


def test_colours_only_on_request_and_never_with_no_color():
    args = [sys.executable, os.path.join(os.path.dirname(HERE), "bench_compare.py"), os.path.join(FIX, "baseline.csv"),
            os.path.join(FIX, "regressed_writer.csv"), "--gate", GATE]
    piped = subprocess.run(args, capture_output=True, text=True)
    assert piped.returncode == 1 and "\033[" not in piped.stdout  # not a terminal: plain
    out = []
    bench_compare.print_table([("r", 1.0, 2.0, 2.0, None, "FAIL", "d")], out=type("W", (), {"write": lambda s, x: out.append(x)})(),
                              color=True)
    assert "\033[31mFAIL" in "".join(out)
    nocolor = subprocess.run(args + ["--no-color"], capture_output=True, text=True)
    assert nocolor.returncode == 1 and "\033[" not in nocolor.stdout


def test_a_rule_without_the_u_test_is_judged_on_its_margin_alone(tmp_path):
    gate = tmp_path / "gate.toml"
    gate.write_text(STAT_GATE + 'test = "none"\n')
    base = write_csv(tmp_path / "b.csv", {"BM_Op": BASE_REPS, "BM_Base": [10] * 9})
    cand = write_csv(tmp_path / "c.csv", {"BM_Op": [99, 100, 101, 103, 190, 200, 210, 220, 230], "BM_Base": [10] * 9})
    (row,) = bench_compare.judge(bench_compare.load_csv(base), bench_compare.load_csv(cand),
                                 bench_compare.load_gate(str(gate)))
    assert row[4] is None and row[5] == "FAIL"
    gate.write_text(STAT_GATE + 'test = "t"\n')
    with pytest.raises(bench_compare.GateError, match="test must be"):
        bench_compare.load_gate(str(gate))


@pytest.mark.parametrize("cand_op", [[0] * 9, [float("nan")] * 9])
def test_a_zero_or_nan_candidate_fails_rather_than_passing(tmp_path, cand_op):
    name, b, c, growth, p, verdict, detail = judge_reps(tmp_path, cand_op)
    assert verdict == "FAIL" and "positive finite" in detail
