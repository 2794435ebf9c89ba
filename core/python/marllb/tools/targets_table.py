"""The targets table of docs/scenarios.md, rendered from scenarios/targets.toml.

    marllb-targets-table                             print the table
    marllb-targets-table --write docs/scenarios.md   put it between the file's markers
    marllb-targets-table --check docs/scenarios.md   exit 1 if the file's table differs (ctest)
    (or python3 -m marllb.tools.targets_table ...; --targets defaults to the checkout's,
    marllb.tools.checkout())

The markers are the lines `<!-- targets:begin -->` and `<!-- targets:end -->`.
"""
import argparse
import os
import sys
import tomllib

from marllb.tools import checkout, version

PROG = "marllb-targets-table"
BEGIN, END = "<!-- targets:begin -->", "<!-- targets:end -->"


def load(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def limit(t):
    if t.get("per_run_limit"):
        parts = [f"{t[k]:g} x {k[:-1]}" for k in ("heartbeats", "cadences") if t.get(k)]
        if t.get("over_null") is not None:
            parts = [f"the null event's {t['quantity']}", f"{t['over_null']:g} {t['unit']}"]
        return f"{t['op']} {' + '.join(parts)}"
    return f"{t['op']} {t['limit']:g} {t['unit']}"


def render(doc):
    lines = ["| target | source | what | rows | judged |", "|---|---|---|---|---|"]
    for t in doc.get("target", []):
        scen = "cadence, placement" if t["scenario"] == "cadence" else t["scenario"]  # placement rows come from cadence
        rows = f"{scen} `{t['metric']}`" + (f" ({t['regime']}*)" if t.get("regime") else "")
        if t.get("max_cadence_us"):
            rows += f", publishing every {t['max_cadence_us']:g} us or faster"
        lines.append(f"| `{t['id']}` | {t['source']} | {t['what']} | {rows} | {t['quantity']} {limit(t)} |")
    lines += ["", "| invariant | what |", "|---|---|"]
    for i in doc.get("invariant", []):
        lines.append(f"| `{i['id']}` | {i['what']} |")
    return "\n".join(lines) + "\n"


def splice(text, table, path):
    if BEGIN not in text or END not in text:
        sys.exit(f"{PROG}: {path} has no {BEGIN} ... {END} markers: add them where the table goes")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}{END}{tail}"


def main(argv=None):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=version(PROG))
    p.add_argument("--targets", default=os.path.join(checkout(), "scenarios", "targets.toml"))
    g = p.add_mutually_exclusive_group()
    g.add_argument("--write", metavar="MD")
    g.add_argument("--check", metavar="MD")
    a = p.parse_args(argv)
    table = render(load(a.targets))
    if not a.write and not a.check:
        print(table, end="")
        return 0
    path = a.write or a.check
    with open(path) as f:
        text = f.read()
    want = splice(text, table, path)
    if a.write:
        with open(path, "w") as f:
            f.write(want)
        return 0
    if want != text:
        print(f"{PROG}: the table in {path} differs from {a.targets}: run {PROG} --write {path} (from a checkout: "
              f"PYTHONPATH=core/python python3 -m marllb.tools.targets_table --write {path})",
              file=sys.stderr)
        return 1
    print(f"{PROG}: {path} matches {a.targets}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
