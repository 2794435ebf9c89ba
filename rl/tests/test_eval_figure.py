"""rl/eval_figure.py on a small frozen evaluation: the figure names its rows' commits and LB model
in its corner, has one legend of the policies, and a summary without rows is refused (exit 2)
with nothing written. Needs no PyTorch."""
import csv

import eval_figure

POLICIES = eval_figure.POLICIES


def summary():
    out = []
    for servers in ("marllb7", "marllb24"):
        for wl in ("poisson-0.85", "trace-350"):
            for lbs in (1, 2):
                for k, p in enumerate(POLICIES):
                    out.append({"run": f"runs/{servers}-{lbs}", "servers": servers, "lbs": lbs, "workload": wl,
                                "policy": p, "fct_p90_ms": 100.0 + 20 * k, "fct_p90_ms_ci95": 3.0,
                                "p90_minus_best_ms": 4.0, "p90_minus_best_ci95": 1.0, "p90_minus_sed_ms": 5.0,
                                "p90_minus_sed_ci95": 1.0})
    return out


ROWS = [{"date": "2026-12-01T10:00:00Z", "git_commit": "f1x7ure0c0de", "lb_model": "marllb"}]


def write(path, rows, cols):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerows(rows)


def test_the_figure_names_its_rows_and_has_one_legend_of_the_policies():
    fig = eval_figure.draw(summary(), ROWS)
    text = " ".join(t.get_text() for t in fig.texts)
    assert "commit f1x7ure0c0de" in text and "lb_model marllb" in text and "2026-12-01" in text, text
    assert [ax.get_legend() for ax in fig.axes] == [None] * len(fig.axes)  # no legend over the panels
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()][:len(POLICIES)] == list(POLICIES)
    assert all(ax.get_title(loc="left") and ax.get_xlabel() for ax in fig.axes)


def test_the_command_redraws_from_files_and_refuses_an_empty_summary(tmp_path, capsys):
    rows, summ, out = tmp_path / "eval.csv", tmp_path / "summary.csv", tmp_path / "eval.png"
    write(rows, ROWS, list(ROWS[0]))
    write(summ, summary(), list(summary()[0]))
    assert eval_figure.main(["--rows", str(rows), "--summary", str(summ), "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    out.unlink()
    write(summ, [], list(summary()[0]))
    assert eval_figure.main(["--rows", str(rows), "--summary", str(summ), "--out", str(out)]) == 2
    assert not out.exists() and "no summary rows" in capsys.readouterr().err
