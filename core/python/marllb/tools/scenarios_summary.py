"""The verdict of a scenario run: every row that missed a target or broke an invariant.

Reads the rows (status column: ok, miss, fail, unavailable; scenarios/targets.toml says what
each means) of <dir>/*.csv and <dir>/*/checks.csv, keeps those dated at or after --since,
prints the counts and one line per `miss` and `fail` row (scenario, regime, metric, placement,
and what was missed or broken), and exits 1 when a row failed (or when there is no row at all),
0 otherwise: a missed target is reported, never fatal.

    marllb-scenarios-summary build/scenarios-quick --since 2026-11-26T12:00:00Z
    (or python3 -m marllb.tools.scenarios_summary ...)
"""
import argparse
import csv
import glob
import os
import re
import sys

from marllb.tools import version

STATUSES = ("ok", "miss", "fail", "unavailable")
# "missed <target> (...)" and "broken <invariant> (...)" clauses of a note (targets.hpp).
VERDICT = re.compile(r"(?:missed|broken) \S+ \((?:[^()]|\([^()]*\))*\)")


def load(d, since):
    """Rows with a status, from every result CSV of the run directory, dated >= since."""
    paths = sorted(glob.glob(os.path.join(d, "*.csv")) + glob.glob(os.path.join(d, "*", "checks.csv")))
    out = []
    for p in paths:
        with open(p, newline="") as f:
            r = csv.DictReader(f)
            if not r.fieldnames or "status" not in r.fieldnames or "scenario" not in r.fieldnames:
                continue  # another schema (marllb-sim's pipeline.csv, agents.csv)
            for row in r:
                if since and row.get("date", "") < since:
                    continue
                row["_file"] = os.path.relpath(p, d)
                out.append(row)
    return out


def what(row):
    found = VERDICT.findall(row.get("note", ""))
    return "; ".join(found) if found else row.get("note", "")


def summarize(rows):
    """(counts, lines, failed): counts per status; a line per miss and fail row."""
    counts = {s: 0 for s in STATUSES}
    lines = []
    failed = False
    for r in rows:
        st = r["status"]
        if st not in STATUSES:  # an unknown verdict is not a pass
            st, r = "fail", dict(r, note=f"unknown status '{r['status']}' in {r['_file']}: {r.get('note', '')}")
        counts[st] += 1
        failed |= st == "fail"
        if st in ("miss", "fail"):
            where = r.get("placement", "")
            if r.get("mem_bind") and r.get("mem_bind") != "none":
                where += "/" + r["mem_bind"]
            lines.append(f"{st:<5} {r['scenario']:<10} {r.get('regime', ''):<24} {r.get('metric', ''):<36} {where:<24} {what(r)}")
    return counts, lines, failed


def main(argv=None):
    p = argparse.ArgumentParser(prog="marllb-scenarios-summary", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=version("marllb-scenarios-summary"))
    p.add_argument("dir", help="the run's output directory (scripts/scenarios.sh --out)")
    p.add_argument("--since", default="", help="only rows dated at or after this UTC time (YYYY-MM-DDTHH:MM:SSZ)")
    a = p.parse_args(argv)
    if not os.path.isdir(a.dir):
        print(f"marllb-scenarios-summary: no directory '{a.dir}' (give the --out of scripts/scenarios.sh)", file=sys.stderr)
        return 2
    rows = load(a.dir, a.since)
    counts, lines, failed = summarize(rows)
    print(f"\nscenario summary ({a.dir}{', since ' + a.since if a.since else ''}): {len(rows)} rows: "
          + ", ".join(f"{counts[s]} {s}" for s in STATUSES))
    for line in lines:
        print("  " + line)
    if not rows:
        print("no rows: did the scenarios run?", file=sys.stderr)
        return 1
    if failed:
        print(f"{counts['fail']} rows broke an invariant (fail)")
        return 1
    print("no invariant broken" + (f"; {counts['miss']} rows missed a target (miss: reported, not fatal)" if counts["miss"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
