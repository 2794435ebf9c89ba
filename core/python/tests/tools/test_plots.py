"""The figure commands (marllb.plots) on frozen rows (fixtures/plots, fixtures/baseline.csv): each figure carries
the provenance of its rows (commit, CPU model, profile) in its corner, a script writes exactly the
figures it has rows for and says which, legends stay short, and input without rows is refused
(exit 2) with nothing written."""
import csv
import os
import shutil

import pytest

from marllb.plots import bench as bench_plot, pipeline as pipeline_plot, scenarios as scenarios_plot

HERE = os.path.dirname(os.path.abspath(__file__))

FIX = os.path.join(HERE, "fixtures", "plots")
COMMIT, CPU = "f1x7ure0c0de", "Fixture CPU 9000"


def corner_text(fig):
    return " | ".join(t.get_text() for t in fig.texts)


def legend_entries(fig):
    return [len(ax.get_legend().get_texts()) for ax in fig.axes if ax.get_legend() is not None]


def pngs(d):
    return sorted(n for n in os.listdir(d) if n.endswith(".png"))


def copy_rows(tmp_path, names):
    d = tmp_path / "scenarios"
    d.mkdir()
    for n in names:
        shutil.copy(os.path.join(FIX, "scenarios", f"{n}.csv"), d / f"{n}.csv")
    return d


def test_each_scenario_figure_names_its_rows_commit_cpu_and_profile():
    figs = scenarios_plot.draw(os.path.join(FIX, "scenarios"))
    assert sorted(figs) == ["crash.png", "latency.png", "scale.png", "wrap.png"]
    for name, fig in figs.items():
        text = corner_text(fig)
        assert f"commit {COMMIT}" in text and f"CPU {CPU}" in text and "profile quick" in text, (name, text)


def test_the_latency_figure_has_short_legends_and_titled_labelled_panels():
    fig = scenarios_plot.draw(os.path.join(FIX, "scenarios"))["latency.png"]
    assert all(n <= 6 for n in legend_entries(fig)), legend_entries(fig)
    for ax in fig.axes:
        assert ax.get_title(loc="left"), "a panel without a title"
        assert len([t for t in ax.get_xticklabels() if t.get_text()]) >= 3, "fewer than 3 latency tick labels"


def test_the_scale_figure_has_a_title_and_labelled_ticks():
    fig = scenarios_plot.draw(os.path.join(FIX, "scenarios"))["scale.png"]
    assert fig._suptitle is not None and fig._suptitle.get_text()
    lat = fig.axes[0]
    assert lat.get_title() and len([t for t in lat.get_yticklabels() if t.get_text()]) >= 2


def test_scenarios_plot_writes_only_the_figures_it_has_rows_for_and_says_which(tmp_path, capsys):
    d = copy_rows(tmp_path, ["wrap"])
    assert scenarios_plot.main([str(d)]) == 0
    assert pngs(d) == ["latency.png", "wrap.png"]  # the busy reader's row is a latency panel
    out = capsys.readouterr().out
    assert "2 figures" in out and "no rows for crash.png, scale.png" in out, out


def test_scenarios_plot_refuses_a_folder_without_rows_and_writes_nothing(tmp_path, capsys):
    d = copy_rows(tmp_path, [])
    assert scenarios_plot.main([str(d)]) == 2
    assert pngs(d) == []
    assert "no scenario rows" in capsys.readouterr().err
    assert scenarios_plot.main([str(tmp_path / "missing")]) == 2


def filtered_bench_csv(tmp_path, keep):
    src = os.path.join(HERE, "fixtures", "baseline.csv")
    with open(src, newline="") as f:
        r = csv.DictReader(f)
        rows, cols = [x for x in r if keep(x)], r.fieldnames
    path = tmp_path / "bench.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerows(rows)
    return str(path)


def test_bench_plot_draws_three_figures_each_naming_its_rows(tmp_path):
    figs = bench_plot.draw(filtered_bench_csv(tmp_path, lambda r: True))
    assert sorted(figs) == ["hot_ops.png", "latency_percentiles.png", "one_way_latency.png"]
    for name, fig in figs.items():
        text = corner_text(fig)
        assert "commit fixture" in text and "CPU AMD EPYC" in text and "cpu_relation same_package" in text, (name, text)
    assert legend_entries(figs["latency_percentiles.png"]) == []  # lines labelled at their ends


def test_bench_plot_on_a_core_only_csv_writes_only_hot_ops_and_says_so(tmp_path, capsys):
    out = tmp_path / "figs"
    src = filtered_bench_csv(tmp_path, lambda r: r["binary"] == "bench_core")
    assert bench_plot.main([src, str(out)]) == 0
    assert pngs(out) == ["hot_ops.png"]
    said = capsys.readouterr().out
    assert "1 figure in" in said and "hot_ops.png" in said and "no rows for one_way_latency.png, latency_percentiles.png" in said


@pytest.mark.parametrize("keep", [lambda r: False, lambda r: r["binary"] == "bench_sim"], ids=["no rows", "sim rows only"])
def test_bench_plot_refuses_a_csv_with_nothing_to_draw_and_writes_nothing(tmp_path, capsys, keep):
    out = tmp_path / "figs"
    assert bench_plot.main([filtered_bench_csv(tmp_path, keep), str(out)]) == 2
    assert not out.exists() or pngs(out) == []
    assert "nothing drawn" in capsys.readouterr().err


def test_pipeline_plot_names_the_runs_row(tmp_path):
    fig = pipeline_plot.draw(os.path.join(FIX, "pipeline", "20261127T212228Z-5714"))
    text = corner_text(fig)
    assert f"commit {COMMIT}" in text and f"CPU {CPU}" in text and "realtime, LB model marllb, policy agent-sed" in text


def test_pipeline_plot_refuses_a_run_without_rows(tmp_path, capsys):
    run = tmp_path / "20261127T212228Z-1"
    run.mkdir()
    (run / "timeseries.csv").write_text("elapsed_s,jain_util,jain_duration,fct_p50_ms,fct_p90_ms\n")
    assert pipeline_plot.main([str(run)]) == 2
    assert pngs(run) == [] and "has no rows" in capsys.readouterr().err
