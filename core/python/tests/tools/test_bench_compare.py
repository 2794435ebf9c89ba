"""The regression gate on frozen CSV fixtures: noise passes, a real regression fails and is
named, exact counters are exact, missing data fails, bad input is a clear error."""
import csv
import os
import subprocess
import sys

import pytest

from marllb.tools import bench_compare

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
GATE = os.path.join(ROOT, "bench", "gate.toml")
TOOL = [sys.executable, "-m", "marllb.tools.bench_compare"]


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
    ok = subprocess.run([*TOOL, os.path.join(FIX, "baseline.csv"),
                         os.path.join(FIX, "noise_0.csv")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    bad = subprocess.run([*TOOL, os.path.join(FIX, "baseline.csv"),
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


PAIRED_GATE = ('[ratio.op]\nstatistic = "paired"\nnumerator = "bench_core:BM_Paired/op:op_ns"\n'
               'denominator = "bench_core:BM_Paired/op:floor_ns"\nmax_growth = 1.3\n')


def judge_op_floor(tmp_path, base, cand, gate_text=PAIRED_GATE):
    """base, cand: (op_ns reps, floor_ns reps) of one paired benchmark."""
    def write(path, reps):
        with open(path, "w") as f:
            f.write("binary,benchmark,metric,median,min,max,values\n")
            for metric, values in zip(("op_ns", "floor_ns"), reps):
                med = sorted(values)[len(values) // 2]
                f.write(f"bench_core,BM_Paired/op,{metric},{med},{min(values)},{max(values)},{' '.join(map(str, values))}\n")
        return bench_compare.load_csv(str(path))
    gate = tmp_path / "gate.toml"
    gate.write_text(gate_text)
    (row,) = bench_compare.judge(write(tmp_path / "b.csv", base), write(tmp_path / "c.csv", cand),
                                 bench_compare.load_gate(str(gate)))
    return row


# A host that changes phase between repetitions moves an operation and its floor together
# within a repetition, but not the medians of the two columns: "paired" divides within each
# repetition and sees no growth where the ratio of medians saw 2.25x.
PHASED_BASE = ([100] * 5 + [150] * 4, [10] * 4 + [15] * 5)
PHASED_CAND = ([100] * 4 + [150] * 5, [10] * 5 + [15] * 4)


def test_paired_statistic_divides_within_each_repetition(tmp_path):
    name, b, c, growth, p, verdict, detail = judge_op_floor(tmp_path, PHASED_BASE, PHASED_CAND)
    assert b == 10 and c == 10 and growth == 1.0 and verdict == "PASS"
    unpaired = judge_op_floor(tmp_path, PHASED_BASE, PHASED_CAND, PAIRED_GATE.replace('"paired"', '"median"'))
    assert unpaired[3] > 2  # the same data read as medians of each column


def test_paired_statistic_fails_a_growth_in_every_repetition(tmp_path):
    base = ([100 + i for i in range(9)], [10] * 9)
    cand = ([1.5 * (100 + i) for i in range(9)], [10] * 9)
    name, b, c, growth, p, verdict, detail = judge_op_floor(tmp_path, base, cand)
    assert growth > 1.3 and p < 0.01 and verdict == "FAIL"


def test_paired_without_pairs_says_it_read_medians(tmp_path):
    # 9 repetitions of the numerator against 8 of the denominator cannot be paired.
    name, b, c, growth, p, verdict, detail = judge_op_floor(tmp_path, ([100] * 9, [10] * 8), ([100] * 9, [10] * 8))
    assert p is None and "no per-repetition pairs" in detail


def test_a_statistic_the_gate_does_not_know_is_refused(tmp_path):
    gate = tmp_path / "gate.toml"
    gate.write_text(PAIRED_GATE.replace('"paired"', '"mean"'))
    with pytest.raises(bench_compare.GateError, match="paired"):
        bench_compare.load_gate(str(gate))


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
    stat = {"paired": "median"}.get(rule.get("statistic", "median"), rule.get("statistic", "median"))
    for fixture in ("baseline", "regressed_writer"):
        table = bench_compare.load_csv(os.path.join(FIX, fixture + ".csv"))
        num, den = bench_compare.value(table, rule["numerator"], stat), bench_compare.value(table, rule["denominator"], stat)
        assert f"{bench_compare.fmt(num)} / {bench_compare.fmt(den)}" in line
    head = next(l for l in out.splitlines() if l.startswith("metric "))
    assert "baseline ns" in head and "candidate ns" in head


def test_colours_only_on_request_and_never_with_no_color():
    args = [*TOOL, os.path.join(FIX, "baseline.csv"),
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


# The input checked like an instrument's: a CSV that is not one is exit 2 with file:line,
# never a regression (exit 1) and never GATE FAILED.
def fixture_text():
    return open(os.path.join(FIX, "baseline.csv")).read()


def main_out(capsys, *args):
    rc = bench_compare.main([*map(str, args), "--gate", GATE])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_a_garbage_line_is_exit_2_naming_file_and_line(tmp_path, capsys):
    lines = fixture_text().splitlines(keepends=True)
    bad = tmp_path / "garbage.csv"
    bad.write_text("".join(lines[:5] + ["this is not a row of a benchmark CSV\n"] + lines[5:]))
    rc, out, err = main_out(capsys, os.path.join(FIX, "baseline.csv"), bad)
    assert rc == 2 and f"{bad}:6:" in err and "GATE FAILED" not in out


def test_a_number_that_is_not_one_is_exit_2_naming_the_line(tmp_path, capsys):
    lines = fixture_text().splitlines(keepends=True)
    lines[3] = lines[3].replace(",106,", ",1O6,")  # the letter O in a median
    bad = tmp_path / "typo.csv"
    bad.write_text("".join(lines))
    rc, out, err = main_out(capsys, bad, os.path.join(FIX, "baseline.csv"))
    assert rc == 2 and f"{bad}:4: median is '1O6', not a number" in err


@pytest.mark.parametrize("keep", [0.3, 0.5, 0.9])
def test_a_csv_cut_short_is_exit_2_never_gate_failed(tmp_path, capsys, keep):
    text = fixture_text()
    cut = tmp_path / "cut.csv"
    cut.write_text(text[:int(len(text) * keep)])
    rc, out, err = main_out(capsys, os.path.join(FIX, "baseline.csv"), cut)
    assert rc == 2 and "GATE FAILED" not in out and f"{cut}:" in err
    assert "cut short" in err


def test_a_second_row_for_the_same_metric_is_exit_2(tmp_path, capsys):
    lines = fixture_text().splitlines(keepends=True)
    dup = tmp_path / "dup.csv"
    dup.write_text("".join(lines + [lines[3]]))
    rc, out, err = main_out(capsys, os.path.join(FIX, "baseline.csv"), dup)
    assert rc == 2 and f"{dup}:{len(lines) + 1}: a second row" in err and "line 4" in err


def test_values_fewer_than_the_repetitions_is_exit_2(tmp_path, capsys):
    base = write_csv(tmp_path / "b.csv", {"BM_Op": BASE_REPS, "BM_Base": [10] * 9})
    text = open(base).read().replace("bench_core,BM_Op,time_ns,", "bench_core,BM_Op,time_ns,", 1)
    head, row, rest = text.split("\n", 2)
    fields = head.split(",") + ["repetitions"]
    lines = [",".join(fields)] + [l + ",9" for l in text.splitlines()[1:]]
    lines[1] = lines[1].replace(" 108,9", ",9")  # the last repetition's value lost
    short = tmp_path / "short.csv"
    short.write_text("\n".join(lines) + "\n")
    with pytest.raises(bench_compare.GateError, match=r"short.csv:2: 8 values for 9 repetitions"):
        bench_compare.load_csv(str(short))


def test_a_suite_the_candidate_did_not_run_is_not_run_not_fail(tmp_path, capsys):
    core_only = tmp_path / "core_only.csv"
    lines = fixture_text().splitlines(keepends=True)
    core_only.write_text("".join([lines[0]] + [l for l in lines[1:] if ",bench_core," in l]))
    rc, out, err = main_out(capsys, os.path.join(FIX, "baseline.csv"), core_only)
    assert rc == 0, out + err
    v = {l.split()[0]: l for l in out.splitlines() if l.startswith(("obs_torn", "full_loop_p50", "publish_vs"))}
    assert "NOT RUN" in v["obs_torn"] and "NOT RUN" in v["full_loop_p50_vs_cacheline"]
    assert "PASS" in v["publish_vs_word_copy"]
    assert "not run (" in out.splitlines()[-1]
    # a benchmark missing from a suite that did run is still a FAIL (missing_full_loop)
    assert verdicts("missing_full_loop")["full_loop_lost"] == "FAIL"


def test_nothing_to_judge_is_exit_2(tmp_path, capsys):
    other = tmp_path / "other.csv"
    lines = fixture_text().splitlines(keepends=True)
    other.write_text("".join([lines[0]] + [l.replace(",bench_core,", ",bench_other,") for l in lines[1:]
                                           if ",bench_core," in l]))
    rc, out, err = main_out(capsys, os.path.join(FIX, "baseline.csv"), other)
    assert rc == 2 and "nothing to judge" in err


def test_two_cpus_are_said_loudly_at_the_top(tmp_path, capsys):
    xeon = tmp_path / "xeon.csv"
    xeon.write_text(fixture_text().replace(",AMD EPYC,", ",Intel(R) Xeon(R) Platinum,"))
    rc, out, err = main_out(capsys, os.path.join(FIX, "baseline.csv"), xeon)
    head = out.splitlines()[:4]
    assert head[0].startswith("baseline:") and "AMD EPYC" in head[0] and "commit fixture" in head[0]
    assert head[1].startswith("candidate:") and "Intel(R) Xeon(R) Platinum" in head[1]
    assert head[2].startswith("ACROSS MACHINES: the baseline ran on AMD EPYC, the candidate on Intel(R) Xeon(R) Platinum")
    rc, out, err = main_out(capsys, os.path.join(FIX, "baseline.csv"), os.path.join(FIX, "noise_0.csv"))
    assert "ACROSS MACHINES" not in out and "same CPU model on both sides: AMD EPYC" in out


def test_no_baseline_for_this_cpu_judges_only_the_exact_rules(capsys):
    rc, out, err = bench_compare.main(["--no-baseline", os.path.join(FIX, "torn_accepted.csv"), "--gate", GATE]), *capsys.readouterr()
    assert rc == 1 and "GATE FAILED: obs_torn" in out
    line = next(l for l in out.splitlines() if l.startswith("publish_vs_word_copy"))
    assert "SKIP" in line and "no baseline for AMD EPYC" in line
    rc = bench_compare.main(["--no-baseline", os.path.join(FIX, "regressed_writer.csv"), "--gate", GATE])
    assert rc == 0  # a timing regression cannot be seen without a baseline; the exact rules passed
    assert bench_compare.main([os.path.join(FIX, "regressed_writer.csv"), "--no-baseline", "x.csv", "--gate", GATE]) == 2


def test_every_benchmark_is_in_a_table_with_old_new_change_and_p(tmp_path, capsys):
    base = write_csv(tmp_path / "b.csv", {"BM_Op": BASE_REPS, "BM_Base": [10] * 9})
    cand = write_csv(tmp_path / "c.csv", {"BM_Op": [2 * v for v in BASE_REPS], "BM_Base": [10] * 9})
    gate = tmp_path / "gate.toml"
    gate.write_text(STAT_GATE)
    assert bench_compare.main([base, cand, "--gate", str(gate)]) == 1
    out = capsys.readouterr().out
    rows = {l.split()[0]: l.split() for l in out.splitlines() if l.startswith("  bench_core:")}
    assert set(rows) == {"bench_core:BM_Op", "bench_core:BM_Base"}
    op = rows["bench_core:BM_Op"]
    assert op[1:5] == ["time_ns", "104", "208", "+100.0%"]
    # 9 against 9, fully separated: two-sided exact p = 2 / C(18, 9)
    assert float(op[5]) == pytest.approx(2 / 48620, rel=0.01)
    assert rows["bench_core:BM_Base"][4] == "0"
    assert bench_compare.main([base, cand, "--gate", str(gate), "--no-table"]) == 1
    assert "bench_core:BM_Op" not in capsys.readouterr().out.split("metric ")[0]


def test_series_csv_rows_carry_both_sides_commits_and_cpus(tmp_path, capsys):
    series = tmp_path / "series.csv"
    assert bench_compare.main([os.path.join(FIX, "baseline.csv"), os.path.join(FIX, "regressed_writer.csv"),
                               "--gate", GATE, "--csv", str(series), "--label", "x#1"]) == 1
    rows = list(csv.DictReader(open(series)))
    pub = next(r for r in rows if r["rule"] == "publish_vs_word_copy")
    assert pub["verdict"] == "FAIL" and pub["baseline_cpu"] == "AMD EPYC" and pub["candidate_commit"] == "fixture"
    old = tmp_path / "old.csv"
    old.write_text("label,rule,baseline,candidate,growth,p,verdict\n")
    capsys.readouterr()
    assert bench_compare.main([os.path.join(FIX, "baseline.csv"), os.path.join(FIX, "noise_0.csv"),
                               "--gate", GATE, "--csv", str(old)]) == 2
    assert "other columns" in capsys.readouterr().err


def test_a_csv_cut_inside_its_last_field_is_exit_2(tmp_path, capsys):
    # every field still there, the last one shorter: only the missing end of line tells
    text = fixture_text()
    cut = tmp_path / "cut.csv"
    cut.write_text(text[:-2])
    rc, out, err = main_out(capsys, os.path.join(FIX, "baseline.csv"), cut)
    assert rc == 2 and f"{cut}:{text.count(chr(10))}: the file ends mid-line" in err


# A host-dependent exact rule (lost events of the full loop): exact while the baseline holds
# it; when the baseline broke it too in the same run, the host did, and the candidate is
# judged against the baseline's repetitions.
LOST_GATE = '[exact.lost]\nmetric = "bench_ipc:BM_FullLoop/marllb_shm:lost"\nequals = 0\nhost_dependent = true\n'


def judge_lost(tmp_path, base_lost, cand_lost, gate_text=LOST_GATE):
    def write(path, vals):
        fields = ["binary", "benchmark", "metric", "median", "min", "max", "values"]
        path.write_text(",".join(fields) + "\n" + f"bench_ipc,BM_FullLoop/marllb_shm,lost,{sorted(vals)[len(vals) // 2]},"
                        f"{min(vals)},{max(vals)},{' '.join(map(str, vals))}\n")
        return bench_compare.load_csv(str(path))
    gate = tmp_path / "gate.toml"
    gate.write_text(gate_text)
    (row,) = bench_compare.judge(write(tmp_path / "b.csv", base_lost), write(tmp_path / "c.csv", cand_lost),
                                 bench_compare.load_gate(str(gate)))
    return row


def test_lost_events_on_both_sides_of_one_run_are_the_host_and_pass(tmp_path):
    row = judge_lost(tmp_path, [0, 908, 12, 0, 300, 5, 0, 40, 77], [0, 1355, 3, 0, 210, 9, 1, 60, 20])
    assert row[5] == "PASS" and "the baseline also reached 908 (the host)" in row[6]


def test_lost_events_consistently_above_the_baseline_s_fail(tmp_path):
    base = [0, 908, 12, 0, 300, 5, 0, 40, 77]
    row = judge_lost(tmp_path, base, [v + 1000 for v in base])  # a loss of 1 in 2 events added
    assert row[5] == "FAIL" and row[4] < 0.01


def test_lost_events_where_the_baseline_lost_none_fail_exactly(tmp_path):
    assert judge_lost(tmp_path, [0] * 9, [0, 0, 0, 1, 0, 0, 0, 0, 0])[5] == "FAIL"


def test_a_rule_not_marked_host_dependent_stays_exact(tmp_path):
    gate = LOST_GATE.replace("host_dependent = true\n", "")
    assert judge_lost(tmp_path, [0, 908, 12, 0, 300, 5, 0, 40, 77], [0, 1, 0, 0, 0, 0, 0, 0, 0], gate)[5] == "FAIL"


def test_a_report_only_exact_rule_that_broke_is_reported_not_failed(tmp_path):
    # The full loop's count of all losses is the host's (gate.toml): reported, never failing.
    row = judge_lost(tmp_path, [0] * 9, [0, 51, 0, 0, 0, 0, 0, 0, 0], LOST_GATE + "report_only = true\n")
    assert row[5] == "REPORT" and "not gated" in row[6]


@pytest.mark.parametrize("metric, verdict, rc", [("lost", "REPORT", 0), ("lost_calm", "FAIL", 1)])
def test_the_committed_gate_reports_a_host_loss_and_fails_a_calm_one(tmp_path, metric, verdict, rc):
    # bench/gate.toml: the full loop's losses while both processes ran (lost_calm) are the
    # code's and exact; all its losses (lost, 51 in one repetition as the series saw) only reported.
    text = open(os.path.join(FIX, "baseline.csv")).read().splitlines(True)
    key = f",BM_FullLoop/marllb_shm,{metric},count,9,"
    (i,) = [k for k, line in enumerate(text) if key in line]
    text[i] = text[i][:text[i].index(key) + len(key)] + "0,0,51,17,3\n"
    cand = tmp_path / "cand.csv"
    cand.write_text("".join(text))
    gate = bench_compare.load_gate(GATE)
    rows = bench_compare.judge(bench_compare.load_csv(os.path.join(FIX, "baseline.csv")),
                               bench_compare.load_csv(str(cand)), gate)
    judged = {r[0]: r[5] for r in rows}
    assert judged["full_loop_" + metric] == verdict
    assert bench_compare.main([os.path.join(FIX, "baseline.csv"), str(cand), "--gate", GATE]) == rc


def test_a_report_only_rule_that_grew_is_reported_and_never_fails_the_gate(tmp_path, capsys):
    # The same regression the publish rule fails on, with that rule marked report_only: exit 0,
    # verdict REPORT, the growth still printed.
    gate = open(GATE).read().replace("[ratio.publish_vs_word_copy]\n", "[ratio.publish_vs_word_copy]\nreport_only = true\n")
    path = tmp_path / "gate.toml"
    path.write_text(gate)
    rc = bench_compare.main([os.path.join(FIX, "baseline.csv"), os.path.join(FIX, "regressed_writer.csv"),
                             "--gate", str(path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "REPORT" in out and "reported, not gated" in out


# The one-way rules read BM_ObsPaired: marllb-shm and its floor in the same repetition, event by
# event, so a placement the host gave a repetition moves both.
def judge_paired(tmp_path, base, cand, rule="obs_one_way_p50_vs_floor"):
    gate = bench_compare.load_gate(GATE)
    num, den = (gate["ratio"][rule][k].split(":") for k in ("numerator", "denominator"))
    assert num[:2] == den[:2] == ["bench_ipc", "BM_ObsPaired/marllb_shm"]  # one benchmark: paired

    def write(path, reps):
        lines = ["binary,benchmark,metric,median,min,max,values"]
        for metric, vals in zip((num[2], den[2]), zip(*reps)):
            lines.append(f"bench_ipc,BM_ObsPaired/marllb_shm,{metric},{sorted(vals)[len(vals) // 2]},{min(vals)},"
                         f"{max(vals)},{' '.join(map(str, vals))}")
        path.write_text("\n".join(lines) + "\n")
        return bench_compare.load_csv(str(path))
    only = {"ratio": {rule: gate["ratio"][rule]}}
    (row,) = bench_compare.judge(write(tmp_path / "b.csv", base), write(tmp_path / "c.csv", cand), only)
    return row


# The floor's calm p50 in the repetitions of one A/A run (ns): the host moved the vCPUs between a
# placement at ~300 ns and one at ~900 ns, in a different order on each side
# (results/bench/gate-series/ab-lost-calm/raw/none#1, BM_CopyFloorOneWay).
PHASES_BASE = [893, 893, 325, 279, 376, 404, 833, 878, 864]
PHASES_CAND = [923, 982, 918, 368, 365, 365, 830, 826, 854]


@pytest.mark.parametrize("rule", ["obs_one_way_p50_vs_floor", "obs_one_way_p99_vs_floor"])
def test_the_one_way_rules_pass_the_same_code_whatever_placement_each_repetition_had(tmp_path, rule):
    row = judge_paired(tmp_path, [(1.3 * f + 20, f) for f in PHASES_BASE], [(1.3 * f - 15, f) for f in PHASES_CAND], rule)
    assert row[5] == "PASS" and 0.95 < row[3] < 1.05


@pytest.mark.parametrize("rule", ["obs_one_way_p50_vs_floor", "obs_one_way_p99_vs_floor"])
def test_the_one_way_rules_fail_a_receive_half_as_slow_again_in_every_repetition(tmp_path, rule):
    row = judge_paired(tmp_path, [(1.3 * f, f) for f in PHASES_BASE], [(1.95 * f, f) for f in PHASES_CAND], rule)
    assert row[5] == "FAIL" and row[3] > 1.4 and row[4] < 0.05
