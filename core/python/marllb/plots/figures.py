"""What the project's figures share: the provenance stamp every figure carries in its corner
(commit, CPU model, profile and date, from the plotted rows' own columns), lines labelled at their
ends instead of a legend, a nanosecond axis whose ticks say their unit; and the figure commands'
arguments, output folder check and saving.

    from marllb.plots import figures
"""
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator  # noqa: E402

from marllb import result_rows  # noqa: E402
from marllb.tools import checkout  # noqa: E402

DPI = 100  # figures are drawn 9-10 inches wide: 900-1000 px, the width a README shows


def _values(rows, col):
    seen = []
    for r in rows:
        v = (r.get(col) or "").strip()
        if v and v not in seen:
            seen.append(v)
    return seen


def _few(values, name, most=2):
    if not values:
        return f"{name} unknown"
    shown = ", ".join(values[:most])
    return f"{name} {shown}" + (f" (+{len(values) - most} more)" if len(values) > most else "")


def provenance(rows, profile_cols=("profile",)):
    """One line saying where the plotted rows come from: their git commits, CPU models, profile
    (the first of profile_cols the rows have) and dates. Only the rows' own columns are used."""
    parts = [_few(_values(rows, "git_commit"), "commit"), _few(_values(rows, "cpu_model"), "CPU")]
    for col in profile_cols:
        vals = _values(rows, col)
        if vals:
            parts.append(_few(vals, col, most=3))
            break
    dates = sorted({d[:10] for d in _values(rows, "date")})
    if dates:
        parts.append(dates[0] if len(dates) == 1 else f"{dates[0]} .. {dates[-1]}")
    return "rows: " + ", ".join(parts)


def stamp(fig, rows, profile_cols=("profile",)):
    """Writes provenance(rows) in the figure's bottom-right corner; returns the text."""
    text = provenance(rows, profile_cols)
    fig.text(0.995, 0.005, text, ha="right", va="bottom", fontsize=7.5, color="0.35")
    return text


def label_ends(ax, series, log=False, min_gap=None, fontsize=8.5, x_text=None):
    """Labels each line at its last point, to its right (at x_text if given, with a thin leader
    line), spreading the labels apart so none overlap and all stay inside the axes.
    series: [(label, x_last, y_last, color)]."""
    if not series:
        return
    key = (lambda y: math.log10(y)) if log else (lambda y: y)
    unkey = (lambda k: 10 ** k) if log else (lambda k: k)
    lo, hi = (key(v) for v in ax.get_ylim())
    lo, hi = min(lo, hi), max(lo, hi)
    gap = min_gap if min_gap is not None else (hi - lo) * 0.045
    order = sorted(series, key=lambda s: key(s[2]))
    ks = [key(s[2]) for s in order]
    for i in range(1, len(ks)):  # push up to keep the gap
        ks[i] = max(ks[i], ks[i - 1] + gap)
    top = hi - gap / 2
    if ks and ks[-1] > top:  # then back down from the top, inside the axes
        ks[-1] = top
        for i in range(len(ks) - 2, -1, -1):
            ks[i] = min(ks[i], ks[i + 1] - gap)
    for k, (label, x, y, color) in zip(ks, order):
        xt = x if x_text is None else x_text
        ax.annotate(label, (x, y), xytext=(xt, unkey(k)), textcoords="data", xycoords="data",
                    fontsize=fontsize, color=color, va="center", ha="left", annotation_clip=False,
                    arrowprops=None if x_text is None else dict(arrowstyle="-", color=color, lw=0.6, shrinkA=0,
                                                                 shrinkB=3))


def fmt_ns(v, _pos=None):
    """A tick label of a nanosecond axis: '200 ns', '1 us', '20 us', '1 ms'."""
    if v <= 0:
        return ""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if v >= scale:
            x = v / scale
            return f"{x:g} {unit}"
    return f"{v:g} ns"


def ns_axis(ax, which="x", subs=(1.0,)):
    """A log axis in nanoseconds with labelled ticks at `subs` of each decade (1, 2, 5 for an
    axis spanning a decade or two)."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(fmt_ns))
    axis.set_minor_formatter(FuncFormatter(lambda v, p: ""))


def writable_folder(prog, folder, make=False):
    """True if the figures can be written into folder (made first with make); else says why on
    stderr, as '<prog>: ...: give a folder you can write to', and returns False."""
    if make:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            print(f"{prog}: cannot make {folder} ({e.strerror}): give a folder you can write to", file=sys.stderr)
            return False
    if not os.access(folder, os.W_OK):
        print(f"{prog}: cannot write into {folder}: give a folder you can write to", file=sys.stderr)
        return False
    return True


def arguments(prog, argv, doc, usage, count=1):
    """A figure command's `count` arguments (argv: without the program's name; None: this
    process's). --help prints doc and --version the command's version (exit 0); another number of
    arguments, or an option, prints the usage line on stderr and gives None."""
    argv = sys.argv[1:] if argv is None else argv
    result_rows.answer_help_and_version(prog, argv, doc, checkout())
    if len(argv) != count or any(a.startswith("-") for a in argv):
        print(f"usage: {prog} {usage}", file=sys.stderr)
        return None
    return argv


def save(prog, figs, folder, names):
    """Writes figs (file name -> figure) into folder and says in one line which, and which of
    names (every figure the command draws) had no rows."""
    for name, fig in figs.items():
        fig.savefig(os.path.join(folder, name), dpi=DPI)
        plt.close(fig)
    skipped = [n for n in names if n not in figs]
    print(f"{prog}: {len(figs)} figure{'s' if len(figs) != 1 else ''} in {folder}: {', '.join(figs)}"
          + (f" (no rows for {', '.join(skipped)})" if skipped else ""))
