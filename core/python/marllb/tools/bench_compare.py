"""The benchmark regression gate: a baseline CSV against a candidate CSV (both from
marllb-bench-to-csv), judged by the rules in a gate file (bench/gate.toml). In CI the
baseline is the reference commit's run, interleaved with the candidate's on the same machine
(scripts/bench_gate.sh).

Prints what was compared with what (each side's commits, CPU model, kernel; ACROSS MACHINES
when the CPU models differ or cannot be told), a table of every benchmark and metric (the
median of each side, the change, a two-sided U test over the repetitions, like Google
Benchmark's compare.py), then the gated rules (metric, baseline, candidate, ratio, p,
verdict). Exit 1 if any rule fails; 2 on input it cannot use (a CSV that is not one, with the
file and line: a garbage line, a file cut short), which never reads as a regression.
Ratios compare an operation with an in-run baseline of the same run; exact rules check
counters that must hold (torn, lost) in every repetition. A rule whose binary the candidate
did not run is NOT RUN (not a failure); a rule without a baseline is SKIP.

A ratio rule fails only when both hold: the ratio grew by more than its max_growth (the
effect is large enough to matter), and a one-sided Mann-Whitney U test over the repetitions'
ratios says the candidate's are larger than the baseline's at level alpha (the growth is not
one unlucky repetition). The test needs per-repetition values (the CSV's `values` column); a
CSV without them is judged on the growth alone.

    marllb-bench-compare BASELINE.csv CANDIDATE.csv [--gate bench/gate.toml] [--rules R1,R2]
                         [--csv SERIES.csv --label TEXT] [--no-table]
                         [--gbench BASELINE.json CANDIDATE.json] [--no-color]
    marllb-bench-compare --no-baseline CANDIDATE.csv    (no baseline for this CPU: exact rules only)
    (or python3 -m marllb.tools.bench_compare ...)

Beside each ratio, the table prints the nanoseconds it is made of on each side (numerator /
denominator), so two machines can be compared too: their nanoseconds differ, their ratios to
the in-run baselines are what the verdict reads (docs/benchmarks.md, "Two machines").
It runs under Debian's /usr/bin/python3 whatever python3 started it (tomllib, and scipy for
--gbench: the packages scripts/setup.sh installed). The gate file's default is the checkout's
(marllb.tools.checkout()).

--gbench also prints Google Benchmark's own compare.py report (U test per benchmark) on the
raw JSON, for a closer look; it does not change the verdict.
"""
import argparse
import csv
import functools
import io
import math
import os
import statistics
import subprocess
import sys

from marllb.tools import checkout, environ_with_this_package, version

SYSTEM_PYTHON = "/usr/bin/python3"
GBENCH_COMPARE = "/usr/share/benchmark/compare.py"


class GateError(Exception):
    pass


class BenchTable(dict):
    """{ 'binary:benchmark:metric': row } of one benchmark CSV, with where it came from:
    .path, .binaries (every binary with a row) and .meta (column -> the distinct values of
    git_commit, cpu_model, kernel, date, in file order)."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.binaries = set()
        self.meta = {}


META = ("git_commit", "cpu_model", "kernel", "date")
NEEDED = ("binary", "benchmark", "metric", "median", "min", "max")


def load_csv(path):
    """A benchmark CSV (marllb-bench-to-csv), checked like an instrument's input: a row
    that is not one (a wrong number of fields, a number that is not one, a file cut mid-line,
    a second row for the same metric) is a GateError naming the file and line, never a row
    that reads as missing or regressed."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise GateError(f"cannot read {path}: {e.strerror}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise GateError(f"{path}:{line}: not UTF-8 text (byte {e.start}); make the CSV with marllb-bench-to-csv")
    what = "make it with marllb-bench-to-csv"
    if not text.strip():
        raise GateError(f"{path} is empty: not a benchmark CSV; {what}")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
        missing = [c for c in NEEDED if c not in header]
        if missing:
            raise GateError(f"{path} is not a benchmark CSV (needs columns {sorted(NEEDED)}, lacks "
                            f"{', '.join(missing)}); {what}")
        col = {name: i for i, name in enumerate(header)}
        table, seen = BenchTable(path), {}
        for fields in reader:
            line = reader.line_num
            if not fields:
                continue  # a blank line
            where = f"{path}:{line}"
            if len(fields) != len(header):
                last = text.count("\n") + (0 if text.endswith("\n") else 1)
                cut = " (the file ends there: cut short?)" if line == last else ""
                raise GateError(f"{where}: {len(fields)} fields where the header has {len(header)}{cut}; {what}")
            r = dict(zip(header, fields))
            if not (r["binary"] and r["benchmark"] and r["metric"]):
                raise GateError(f"{where}: no binary, benchmark or metric; {what}")
            if r["metric"] != "unavailable":
                for c in ("median", "min", "max"):
                    try:
                        float(r[c])
                    except ValueError:
                        raise GateError(f"{where}: {c} is {r[c]!r}, not a number; {what}")
                if r.get("values"):
                    try:
                        vals = [float(v) for v in r["values"].split()]
                    except ValueError:
                        raise GateError(f"{where}: values is {r['values']!r}, not numbers; {what}")
                    reps = r.get("repetitions", "")
                    if reps.isdigit() and int(reps) != len(vals):
                        raise GateError(f"{where}: {len(vals)} values for {reps} repetitions (cut short?); {what}")
            binary = r["binary"].removesuffix(".json")
            key = f"{binary}:{r['benchmark']}:{r['metric']}"
            if key in seen:
                raise GateError(f"{where}: a second row for {key} (the first is line {seen[key]}): "
                                "the gate compares one run per file")
            seen[key] = line
            table[key] = r
            table.binaries.add(binary)
            for m in META:
                if m in col and r[m] and r[m] not in table.meta.setdefault(m, []):
                    table.meta[m].append(r[m])
    except csv.Error as e:
        raise GateError(f"{path}:{reader.line_num}: not CSV ({e}); {what}")
    if not text.endswith("\n"):
        raise GateError(f"{path}:{text.count(chr(10)) + 1}: the file ends mid-line (cut short?); {what}")
    if not table:
        raise GateError(f"{path} has a header and no rows: no benchmark ran; {what}")
    return table


def load_toml(path, what):
    """The TOML document at path, or GateError naming `what` (e.g. "gate file") and the path."""
    import tomllib  # Python 3.11: here, not at the top, so that an older interpreter gets to under_system_python()
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise GateError(f"cannot read {what} {path}: {e.strerror}")
    except tomllib.TOMLDecodeError as e:
        raise GateError(f"{what} {path} is not valid TOML: {e}")


def load_gate(path):
    gate = load_toml(path, "gate file")
    for name, rule in gate.get("ratio", {}).items():
        for key in ("numerator", "denominator", "max_growth"):
            if key not in rule:
                raise GateError(f"gate file {path}: [ratio.{name}] lacks '{key}'")
        if rule.get("test", "mann-whitney") not in ("mann-whitney", "none"):
            raise GateError(f"gate file {path}: [ratio.{name}] test must be 'mann-whitney' or 'none'")
        if not 0 < float(rule.get("alpha", 0.01)) < 1:
            raise GateError(f"gate file {path}: [ratio.{name}] alpha must be between 0 and 1")
        if rule.get("statistic", "median") not in ("median", "min", "paired"):
            raise GateError(f"gate file {path}: [ratio.{name}] statistic must be 'median', 'min' or 'paired'")
        if not isinstance(rule.get("report_only", False), bool):
            raise GateError(f"gate file {path}: [ratio.{name}] report_only must be true or false")
    for name, rule in gate.get("exact", {}).items():
        if "metric" not in rule or "equals" not in rule:
            raise GateError(f"gate file {path}: [exact.{name}] needs 'metric' and 'equals'")
        if not isinstance(rule.get("host_dependent", False), bool):
            raise GateError(f"gate file {path}: [exact.{name}] host_dependent must be true or false")
        if not isinstance(rule.get("report_only", False), bool):
            raise GateError(f"gate file {path}: [exact.{name}] report_only must be true or false")
    return gate


@functools.lru_cache(maxsize=None)
def u_distribution(m, n):
    """counts[k] = number of orderings of m + n distinct values whose U equals k, built up one
    value at a time: f(m, n) = f(m - 1, n) shifted by n, plus f(m, n - 1)."""
    table = {(0, j): [1] for j in range(n + 1)}
    for i in range(1, m + 1):
        table[(i, 0)] = [1]
        for j in range(1, n + 1):
            a, b = table[(i - 1, j)], table[(i, j - 1)]
            f = [0] * (i * j + 1)
            for k, c in enumerate(a):
                f[k + j] += c
            for k, c in enumerate(b):
                f[k] += c
            table[(i, j)] = f
    return tuple(table[(m, n)])


def mann_whitney_two_sided(a, b):
    """Two-sided p-value of a Mann-Whitney U test between two samples (None below 2 each)."""
    if len(a) < 2 or len(b) < 2:
        return None
    return min(1.0, 2 * min(mann_whitney_greater(a, b), mann_whitney_greater(b, a)))


def mann_whitney_greater(cand, base):
    """One-sided p-value that `cand` tends to be larger than `base` (Mann-Whitney U).

    Exact (the null distribution of U by recursion) when there are no ties; the normal
    approximation with tie and continuity corrections otherwise."""
    m, n = len(cand), len(base)
    u = sum(1.0 if c > b else 0.5 if c == b else 0.0 for c in cand for b in base)
    pooled = sorted(cand + base)
    if len(set(pooled)) == len(pooled):
        dist = u_distribution(m, n)
        return sum(dist[int(u):]) / sum(dist)
    ranks, i = {}, 0
    while i < len(pooled):
        j = i
        while j < len(pooled) and pooled[j] == pooled[i]:
            j += 1
        ranks[pooled[i]] = (i + j + 1) / 2
        i = j
    ties = sum(t ** 3 - t for t in (pooled.count(v) for v in set(pooled)))
    var = m * n / 12 * ((m + n + 1) - ties / ((m + n) * (m + n - 1)))
    if var <= 0:
        return 1.0
    z = (u - m * n / 2 - 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))


def repetitions(table, key):
    """Every repetition's value, in run order, or None when the CSV has no `values`."""
    row = table.get(key)
    if row is None or not row.get("values"):
        return None
    try:
        return [float(v) for v in row["values"].split()]
    except ValueError:
        return None


def rep_ratios(table, num, den):
    n, d = repetitions(table, num), repetitions(table, den)
    if not n or not d or len(n) != len(d) or min(d) <= 0:
        return None
    return [a / b for a, b in zip(n, d)]


def value(table, key, column="median"):
    row = None if table is None else table.get(key)
    if row is None:
        return None
    try:
        return float(row[column])
    except (TypeError, ValueError):
        return None


def unavailable(table, key):
    bench = key.rsplit(":", 1)[0]
    row = table.get(bench + ":unavailable")
    return row["unit"] if row else None


def binaries_of(table):
    return getattr(table, "binaries", None) or {k.split(":", 1)[0] for k in table}


def not_run(cand, *keys):
    """The binaries of `keys` of which the candidate has no row at all: it did not run them
    (a subset of the suites), which is not a regression; a binary that ran without one of
    its benchmarks is one (missing in the candidate: FAIL)."""
    return sorted({k.split(":", 1)[0] for k in keys} - binaries_of(cand))


def judge(base, cand, gate, no_baseline=None):
    """[(name, baseline, candidate, growth, p, verdict, detail)], verdicts PASS, FAIL, SKIP
    (not judged: no baseline for it) and NOT RUN (the candidate did not run its binary).
    base None: no baseline at all (no_baseline says why); only the exact rules are judged."""
    results = []
    for name, rule in gate.get("ratio", {}).items():
        num, den = rule["numerator"], rule["denominator"]
        # "median" or "min" (the fastest repetition) of each metric, then their ratio; "paired":
        # the median of the repetitions' own ratios, for a numerator and denominator measured
        # side by side in each repetition (bench_core's BM_Paired/*), so that no ratio divides
        # one repetition's numerator by another's denominator.
        stat = rule.get("statistic", "median")
        pick = "median" if stat == "paired" else stat
        alpha = float(rule.get("alpha", 0.01))
        absent = not_run(cand, num, den)
        if absent:
            results.append((name, None, None, None, None, "NOT RUN", f"the candidate did not run {', '.join(absent)}"))
            continue
        if base is None:
            results.append((name, None, None, None, None, "SKIP", no_baseline or "no baseline"))
            continue
        b = (value(base, num, pick), value(base, den, pick))
        c = (value(cand, num, pick), value(cand, den, pick))
        if None in b:
            results.append((name, None, None, None, None, "SKIP", f"not in the baseline: {num} or {den}"))
            continue
        if None in c:
            why = unavailable(cand, num) or unavailable(cand, den)
            results.append((name, b[0] / b[1], None, None, None, "FAIL",
                            f"unavailable in the candidate: {why}" if why else f"missing in the candidate: {num} or {den}"))
            continue
        if not all(math.isfinite(v) and v > 0 for v in (*b, *c)):
            results.append((name, None, None, None, None, "FAIL",
                            f"not positive finite numbers: {num} / {den} = {b[0]} / {b[1]} (baseline), {c[0]} / {c[1]} (candidate)"))
            continue
        br, cr = b[0] / b[1], c[0] / c[1]
        base_reps, cand_reps = rep_ratios(base, num, den), rep_ratios(cand, num, den)
        how = f"{stat}s"
        if stat == "paired":  # without one value per repetition on both sides: medians, said so
            how = "medians: no per-repetition pairs to divide"
            if base_reps and cand_reps:
                br, cr = statistics.median(base_reps), statistics.median(cand_reps)
                how = "median of the repetitions' ratios"
        growth = cr / br
        tested = rule.get("test", "mann-whitney") == "mann-whitney"
        p = mann_whitney_greater(cand_reps, base_reps) if tested and base_reps and cand_reps else None
        grew = growth > rule["max_growth"]
        verdict = "FAIL" if grew and (p is None or p < alpha) else "PASS"
        detail = f"{num} / {den} ({how}); allowed growth {rule['max_growth']}x"
        verdict, detail = reported(rule, verdict, detail)
        if p is not None:
            detail += f", U test p = {p:.2g} (fails below {alpha:g})"
            if grew and p >= alpha:
                detail += ": grew, but not consistently over the repetitions"
        results.append((name, br, cr, growth, p, verdict, detail))
    for name, rule in gate.get("exact", {}).items():
        key, want = rule["metric"], float(rule["equals"])
        bv, cv = None if base is None else value(base, key, "max"), value(cand, key, "max")
        absent = not_run(cand, key)
        if absent:
            results.append((name, bv, None, None, None, "NOT RUN", f"the candidate did not run {', '.join(absent)}"))
            continue
        if cv is None:
            results.append((name, bv, None, None, None, "FAIL", f"missing in the candidate: {key}"))
            continue
        detail, p = f"{key} must be {want:g} in every repetition", None
        verdict = "PASS" if cv == want else "FAIL"
        if cv != want and rule.get("host_dependent") and bv is not None and bv != want:
            # The baseline broke it too (in the A/B gate: in the same run, on the same host):
            # the host did it, so the candidate is judged against the baseline's repetitions.
            alpha = float(rule.get("alpha", 0.01))
            br, cr = repetitions(base, key), repetitions(cand, key)
            p = mann_whitney_greater(cr, br) if br and cr else None
            worse = p < alpha if p is not None else cv > bv
            verdict = "FAIL" if worse else "PASS"
            detail = (f"{key}: the baseline also reached {fmt(bv)} (the host); judged against it"
                      + (f", U test p = {p:.2g} (fails below {alpha:g})" if p is not None else ", max against max"))
        results.append((name, bv, cv, None, p, *reported(rule, verdict, detail)))
    return results


def reported(rule, verdict, detail):
    """(verdict, detail) of a rule marked report_only: a FAIL becomes REPORT, never failing the gate."""
    if verdict == "FAIL" and rule.get("report_only"):
        return "REPORT", detail + "; reported, not gated (report_only: see gate.toml)"
    return verdict, detail


def fmt(x):
    if x is None:
        return "-"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def side_ns(base, cand, gate):
    """{ratio rule: (baseline 'num / den' ns, candidate 'num / den' ns)}, by the rule's statistic
    (the medians for "paired")."""
    out = {}
    for name, rule in gate.get("ratio", {}).items():
        stat = rule.get("statistic", "median")
        stat = "median" if stat == "paired" else stat
        sides = []
        for table in (base, cand):
            n, d = value(table, rule["numerator"], stat), value(table, rule["denominator"], stat)
            sides.append("-" if None in (n, d) else f"{fmt(n)} / {fmt(d)}")
        out[name] = tuple(sides)
    return out


def describe(table):
    """'commit X, CPU, kernel K, DATE' of one CSV, from the columns every row carries."""
    m = table.meta
    parts = [f"commit {'+'.join(m['git_commit'])}" if m.get("git_commit") else "commit unknown",
             " + ".join(m["cpu_model"]) if m.get("cpu_model") else "CPU unknown (no cpu_model column)",
             f"kernel {' + '.join(m['kernel'])}" if m.get("kernel") else "kernel unknown"]
    if m.get("date"):
        parts.append(m["date"][0] if len(m["date"]) == 1 else f"{m['date'][0]} .. {m['date'][-1]}")
    return ", ".join(parts)


def provenance(base, cand):
    """The lines that head the report: what was compared with what, and whether the two sides
    ran on the same CPU model (ACROSS MACHINES when not, or when it cannot be told)."""
    lines = [f"baseline:  {base.path if base is not None else 'none'}" + (f": {describe(base)}" if base is not None else ""),
             f"candidate: {cand.path}: {describe(cand)}"]
    if base is None:
        return lines
    bc, cc = base.meta.get("cpu_model", []), cand.meta.get("cpu_model", [])
    if not bc or not cc:
        lines.append("ACROSS MACHINES?  the CPU of one side is unknown (no cpu_model column): whether this "
                     "compares two machines cannot be told")
    elif len(bc) > 1 or len(cc) > 1:
        lines.append(f"ACROSS MACHINES: a side mixes CPUs ({' + '.join(bc)} against {' + '.join(cc)})")
    elif bc != cc:
        lines.append(f"ACROSS MACHINES: the baseline ran on {bc[0]}, the candidate on {cc[0]}. Each ratio is "
                     "its machine's; a FAIL may be the CPU, not the code (docs/benchmarks.md, \"Two machines\")")
    else:
        same = f"same CPU model on both sides: {cc[0]}"
        bk, ck = base.meta.get("kernel", []), cand.meta.get("kernel", [])
        if bk and ck and bk != ck:
            same += f" (kernels differ: {' + '.join(bk)} against {' + '.join(ck)})"
        lines.append(same)
    return lines


def bench_rows(base, cand):
    """[(key, metric, baseline median, candidate median, change, two-sided U p)] for every
    row of either CSV, in file order (the baseline's, then rows only the candidate has)."""
    out = []
    for key in list(base) + [k for k in cand if k not in base]:
        bench, metric = key.rsplit(":", 1)
        b, c = base.get(key), cand.get(key)
        if metric == "unavailable":
            out.append((bench, metric, None, None, "unavailable: " + ((c or b)["unit"] or "?"), None))
            continue
        bv, cv = value(base, key), value(cand, key)
        if b is None or c is None:
            out.append((bench, metric, bv, cv, "only in the " + ("candidate" if b is None else "baseline"), None))
            continue
        if bv == cv:
            change = "0"
        elif bv and math.isfinite(bv) and math.isfinite(cv):
            change = f"{(cv / bv - 1) * 100:+.1f}%"
        else:
            change = "-"
        br, cr = repetitions(base, key), repetitions(cand, key)
        out.append((bench, metric, bv, cv, change, mann_whitney_two_sided(cr, br) if br and cr else None))
    return out


def print_bench_table(base, cand, out=None):
    """Every benchmark and metric of both runs, like Google Benchmark's compare.py: the median
    of each side, the change, and a two-sided U test over the repetitions."""
    out = out or sys.stdout
    rows = bench_rows(base, cand)
    if not rows:
        return
    w = max(len(r[0]) for r in rows)
    mw = max([len(r[1]) for r in rows] + [6])
    print("every benchmark (median of the repetitions; change = candidate / baseline - 1; "
          "p = two-sided U test over the repetitions):", file=out)
    print(f"  {'benchmark':<{w}}  {'metric':<{mw}}  {'baseline':>9}  {'candidate':>9}  {'change':>8}  {'p':>7}", file=out)
    for bench, metric, bv, cv, change, p in rows:
        ps = "-" if p is None else f"{p:.2g}"
        print(f"  {bench:<{w}}  {metric:<{mw}}  {fmt(bv):>9}  {fmt(cv):>9}  {change:>8}  {ps:>7}".rstrip(), file=out)
    print(file=out)


COLORS = {"PASS": "\033[32m", "FAIL": "\033[31m", "SKIP": "\033[33m", "NOT RUN": "\033[33m", "REPORT": "\033[33m"}


def print_table(results, out=None, ns=None, color=False):
    """ns: side_ns() for the 'ns' columns; color: verdicts in colour (a terminal, not --no-color)."""
    out = out or sys.stdout
    ns = ns or {}
    w = max([len(r[0]) for r in results] + [6])
    nw = max([len(x) for pair in ns.values() for x in pair] + [len("baseline ns")])
    head = f"{'metric':<{w}}  {'baseline':>9}  {'candidate':>9}  {'growth':>6}  {'p':>7}  verdict"
    if ns:
        head += f"  {'baseline ns':>{nw}}  {'candidate ns':>{nw}}"
    print(head, file=out)
    for name, b, c, growth, p, verdict, detail in results:
        ps = "-" if p is None else f"{p:.2g}"
        shown = f"{COLORS[verdict]}{verdict}\033[0m" if color else verdict
        line = f"{name:<{w}}  {fmt(b):>9}  {fmt(c):>9}  {fmt(growth):>6}  {ps:>7}  {shown}" + " " * (7 - len(verdict))
        if ns:
            bn, cn = ns.get(name, ("", ""))
            line += f"  {bn:>{nw}}  {cn:>{nw}}"
        if verdict != "PASS" or "not consistently" in detail or "(the host)" in detail:
            line += f"  ({detail})"
        print(line.rstrip(), file=out)


SERIES_FIELDS = ["label", "rule", "baseline_commit", "candidate_commit", "baseline_cpu", "candidate_cpu",
                 "baseline", "candidate", "growth", "p", "verdict"]


def under_system_python():
    """Runs this tool again under SYSTEM_PYTHON (once, with this marllb first on PYTHONPATH) when
    another interpreter started it."""
    if (os.path.realpath(sys.executable) == os.path.realpath(SYSTEM_PYTHON) or not os.access(SYSTEM_PYTHON, os.X_OK)
            or os.environ.get("MARLLB_BENCH_COMPARE_REEXEC")):
        return
    env = environ_with_this_package(MARLLB_BENCH_COMPARE_REEXEC="1")  # once: never a loop
    os.execve(SYSTEM_PYTHON, [SYSTEM_PYTHON, "-m", "marllb.tools.bench_compare", *sys.argv[1:]], env)


def main(argv=None):
    """The command line (argv: the arguments; None: this process's, then under SYSTEM_PYTHON)."""
    if argv is None:
        under_system_python()
    p = argparse.ArgumentParser(prog="marllb-bench-compare", description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", metavar="CSV", help="BASELINE.csv CANDIDATE.csv, or CANDIDATE.csv "
                   "alone with --no-baseline")
    p.add_argument("--no-baseline", action="store_true", help="there is no baseline for the candidate's CPU: "
                   "the ratio rules say so (SKIP), only the exact rules (torn, lost) are judged")
    p.add_argument("--gate", default=os.path.join(checkout(), "bench", "gate.toml"))
    p.add_argument("--version", action="version", version=version("marllb-bench-compare"))
    p.add_argument("--gbench", nargs=2, metavar=("BASELINE_JSON", "CANDIDATE_JSON"))
    p.add_argument("--csv", help="append one row per rule (label, rule, each side's commit and CPU, baseline, "
                   "candidate, growth, p, verdict) to this CSV, e.g. for a series of gate runs")
    p.add_argument("--label", default="", help="the label column of --csv rows")
    p.add_argument("--no-color", action="store_true", help="no colours, also in --gbench's report "
                   "(colours are used only on a terminal)")
    p.add_argument("--no-table", action="store_true", help="leave out the table of every benchmark")
    p.add_argument("--rules", help="judge only these rules (comma-separated names), e.g. when the "
                   "candidate ran only the benchmarks they read")
    args = p.parse_intermixed_args(argv)
    want = 1 if args.no_baseline else 2
    if len(args.files) != want:
        p.print_usage(sys.stderr)
        print(f"marllb-bench-compare: {'--no-baseline takes the candidate CSV alone' if args.no_baseline else 'give a baseline CSV and a candidate CSV'} "
              f"({len(args.files)} given)", file=sys.stderr)
        return 2
    try:
        gate = load_gate(args.gate)
        if args.rules:
            keep = set(args.rules.split(","))
            unknown = keep - set(gate.get("ratio", {})) - set(gate.get("exact", {}))
            if unknown:
                raise GateError(f"--rules names rules the gate file does not have: {', '.join(sorted(unknown))}")
            gate = {kind: {n: r for n, r in rules.items() if n in keep} for kind, rules in gate.items()}
        if args.no_baseline:
            base, cand = None, load_csv(args.files[0])
        else:
            base, cand = load_csv(args.files[0]), load_csv(args.files[1])
        cpu = " + ".join(cand.meta.get("cpu_model", [])) or "this CPU (unknown)"
        results = judge(base, cand, gate, no_baseline=f"no baseline for {cpu}")
        if not [r for r in results if r[5] in ("PASS", "FAIL")]:
            raise GateError(f"nothing to judge: {cand.path} has none of the metrics the rules read "
                            f"({', '.join(sorted(binaries_of(cand))) or 'no binary'} ran)")
        if args.csv:  # checked before anything is printed as a verdict
            d = os.path.dirname(os.path.abspath(args.csv))
            if not os.access(d, os.W_OK) or (os.path.exists(args.csv) and not os.access(args.csv, os.W_OK)):
                raise GateError(f"cannot write --csv {args.csv}: choose a writable path")
            if os.path.exists(args.csv) and os.path.getsize(args.csv) > 0:
                with open(args.csv, newline="") as f:
                    have = next(csv.reader(f), [])
                if have != SERIES_FIELDS:
                    raise GateError(f"--csv {args.csv} has other columns ({','.join(have)}) than this version "
                                    f"writes ({','.join(SERIES_FIELDS)}): give a new file")
    except GateError as e:
        print(f"marllb-bench-compare: {e}", file=sys.stderr)
        return 2
    for line in provenance(base, cand):
        print(line)
    print()
    if base is not None and not args.no_table:
        print_bench_table(base, cand)
    print_table(results, ns=side_ns(base, cand, gate), color=sys.stdout.isatty() and not args.no_color)
    if args.csv:
        new = not os.path.exists(args.csv) or os.path.getsize(args.csv) == 0
        with open(args.csv, "a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(SERIES_FIELDS)
            sides = [" + ".join(t.meta.get(m, [])) if t is not None else "" for t in (base, cand)
                     for m in ("git_commit", "cpu_model")]
            for name, b, c, growth, pv, verdict, _ in results:
                w.writerow([args.label, name, sides[0], sides[2], sides[1], sides[3],
                            "" if b is None else f"{b:.6g}", "" if c is None else f"{c:.6g}",
                            "" if growth is None else f"{growth:.4f}", "" if pv is None else f"{pv:.3g}", verdict])
    failed = [r[0] for r in results if r[5] == "FAIL"]
    if args.gbench:
        if os.path.exists(GBENCH_COMPARE):
            subprocess.run([sys.executable, GBENCH_COMPARE, *(["--no-color"] if args.no_color else []), "benchmarks",
                            *args.gbench], check=False)
        else:
            print(f"(no {GBENCH_COMPARE}: apt-get install libbenchmark-tools)", file=sys.stderr)
    if failed:
        print(f"\nGATE FAILED: {', '.join(failed)}")
        return 1
    judged = sum(r[5] == "PASS" for r in results)
    rest = [f"{sum(r[5] == v for r in results)} {word} ({', '.join(r[0] for r in results if r[5] == v)})"
            for v, word in (("NOT RUN", "not run"), ("SKIP", "skipped")) if any(r[5] == v for r in results)]
    print(f"\ngate passed: {judged} rules" + (f"; {'; '.join(rest)}" if rest else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
