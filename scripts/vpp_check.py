#!/usr/bin/python3
"""Says whether the LB between marllb-sim's world and its servers (VPP with the MARLLB plugin,
docs/vpp.md, or marllb-sim --role lb) published observations and applied actions: from the
world's result row (marllb-sim --role world --csv FILE) and from the LB's region, read as an
agent-side reader through marllb.shm (observations are read, nothing is written).

  scripts/vpp_check.py --world-csv world.csv --region marllb_lb0
  scripts/vpp_check.py --world-csv world.csv --region marllb_lb0 --min-actions 5

Exit 0: frames crossed the LB (the world received what it forwarded), the region holds
published observations and the LB applied at least --min-actions of the agent's actions.
Exit 1: one of these is missing (each line says which). Exit 2: a user error (a missing file,
a row that is not a world's, a bad option), one line.
"""
import argparse
import csv
import os
import sys


def usage_error(msg):
    print(f"vpp_check.py: {msg}", file=sys.stderr)
    sys.exit(2)


class Parser(argparse.ArgumentParser):
    def error(self, message):
        usage_error(f"{message} (see --help)")


def world_row(path):
    if not os.path.isfile(path):
        usage_error(f"--world-csv {path}: no such file: give the file of marllb-sim --role world --csv")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        usage_error(f"--world-csv {path}: no row in it yet: let the world's run end first")
    row = rows[-1]
    if row.get("role") != "world":
        usage_error(f"--world-csv {path}: its last row is not a world's (role {row.get('role')!r}): "
                    "give the file of marllb-sim --role world --csv")
    return row


def main():
    p = Parser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--world-csv", required=True, help="the world's result rows (its last row is read)")
    p.add_argument("--region", default="marllb_lb0", help="the LB's region name (under /dev/shm)")
    p.add_argument("--min-actions", type=int, default=1, help="actions the LB must have applied")
    args = p.parse_args()
    if args.min_actions < 0:
        usage_error("--min-actions must be >= 0")
    row = world_row(args.world_csv)
    try:
        from marllb import shm
    except ImportError as e:
        usage_error(f"cannot import marllb.shm ({e}): install the marllb-shm Python package or set PYTHONPATH")

    ok = True
    sent, received = int(row["world_sent"]), int(row["world_received"])
    crossed = sent > 0 and received > 0
    print(f"world row: status {row['status']}, sent {sent} frames to the LB, received {received} back"
          + ("" if crossed else ": NO frames crossed the LB"))
    ok &= crossed
    try:
        region = shm.AgentRegion(args.region)
    except shm.NoRegionError:
        print(f"region {args.region}: none under /dev/shm: the LB never created it (plugin not loaded, or another name)")
        return 1
    except shm.RegionError as e:
        print(f"region {args.region}: cannot attach: {e}")
        return 1
    with region:
        v = region.verdicts()
    published, applied, rejected = v["published_seq"], v["actions_applied"], v["actions_rejected"]
    print(f"region {args.region}: {published} observations published (LB generation {v['generation']}), "
          f"{applied} actions applied, {rejected} rejected"
          + (f" (last: {v['last_reject_message']})" if rejected else ""))
    if published == 0:
        print("  NO observations: the LB did not publish (no traffic reached it, or its publish path is not called)")
        ok = False
    if applied < args.min_actions:
        print(f"  fewer than {args.min_actions} actions applied: no agent answered, or the LB does not read its action slot")
        ok = False
    print("OK: the LB published observations and applied actions" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
