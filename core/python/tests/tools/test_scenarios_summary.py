"""marllb.tools.scenarios_summary on frozen scenario rows: misses are listed and pass, a broken
invariant anywhere (a scenario row or the pipeline's check) is listed and fails, rows older than
--since are ignored, and an unknown status is never taken for a pass."""
import os
import shutil

from marllb.tools import scenarios_summary

HERE = os.path.dirname(os.path.abspath(__file__))

FIX = os.path.join(HERE, "fixtures", "scenarios")


def run(name, capsys, *args):
    rc = scenarios_summary.main([os.path.join(FIX, name), *args])
    return rc, capsys.readouterr().out


def test_misses_are_listed_with_the_target_and_do_not_fail(capsys):
    rc, out = run("clean", capsys)
    assert rc == 0
    assert "11 rows: 5 ok, 5 miss, 0 fail, 1 unavailable" in out
    assert "missed observation_write (p99 1963, limit < 1000 ns)" in out
    assert "missed updates_without_loss (lost 1736, limit == 0 messages)" in out
    assert out.count("\n  miss ") == 5


def test_a_replay_mismatch_fails_and_names_the_invariant(capsys):
    # Rows of marllb-scenario-wrap with read_next made to behave as a ring of 3.
    rc, out = run("replay_fault", capsys)
    assert rc == 1
    assert "0 ok, 0 miss, 5 fail" in out
    assert "broken loss_replay (read_next lost 372, replay 371" in out


def test_the_pipeline_check_counts(capsys):
    rc, out = run("pipeline_fault", capsys)
    assert rc == 1
    assert "fail  pipeline" in out and "no action applied after the agent restarted" in out


def test_rows_before_since_are_ignored(capsys):
    rc, _ = run("rerun", capsys)
    assert rc == 1  # the older run's fail rows count without --since
    rc, out = run("rerun", capsys, "--since", "2026-11-27T19:16:50Z")
    assert rc == 0
    assert "3 rows: 2 ok, 1 miss, 0 fail" in out


def test_an_unknown_status_is_a_fail(tmp_path, capsys):
    shutil.copy(os.path.join(FIX, "clean", "wrap.csv"), tmp_path / "wrap.csv")
    text = (tmp_path / "wrap.csv").read_text().replace(",ok,", ",FAIL,", 1)
    (tmp_path / "wrap.csv").write_text(text)
    rc = scenarios_summary.main([str(tmp_path)])
    assert rc == 1
    assert "unknown status 'FAIL'" in capsys.readouterr().out


def test_no_rows_is_not_a_pass(tmp_path, capsys):
    assert scenarios_summary.main([str(tmp_path)]) == 1
