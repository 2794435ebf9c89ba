#!/usr/bin/python3
"""Says whether the LB between marllb-sim's world and its servers (VPP with the MARLLB plugin,
docs/vpp.md, or marllb-sim --role lb) published observations and applied actions: from the
world's result row (marllb-sim --role world --csv FILE) and from the LB's region, whose header
it reads without attaching (the agent keeps the region's one agent role; nothing is written).

  scripts/vpp_check.py --world-csv world.csv --region marllb_lb0
  scripts/vpp_check.py --world-csv world.csv --region marllb_lb0 --wait-s 120 &   # during the run

With --wait-s it may start while the world runs: it waits for the region and for the world's
next row, then reports.

Exit 0: frames crossed the LB (the world received what it forwarded), the region holds
published observations and the LB applied at least --min-actions of the agent's actions.
Exit 1: one of these is missing (each line says which). Exit 2: a user error (a missing file,
a row that is not a world's, a bad option), one line.
"""
import argparse
import csv
import os
import struct
import sys
import time


def usage_error(msg):
    print(f"vpp_check.py: {msg}", file=sys.stderr)
    sys.exit(2)


class Parser(argparse.ArgumentParser):
    def error(self, message):
        usage_error(f"{message} (see --help)")


def world_rows(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def check_world_row(path, row):
    if row.get("role") != "world":
        usage_error(f"--world-csv {path}: its last row is not a world's (role {row.get('role')!r}): "
                    "give the file of marllb-sim --role world --csv")
    return row


# The region's header as core/include/marllb/shm_layout.h lays it out (its offsets are static
# asserts there): identity on line 0, the section table on line 1, lifecycle on line 2, the LB's
# verdicts on the agent's actions on line 4; the ring's published_seq opens the ring section.
MAGIC, ABI_VERSION = 0x314D48534C4C524D, 1


def read_header(path, f):
    """The counters the LB keeps in the region (open as f), or a sentence saying why they cannot be read."""
    try:
        with f:
            f.seek(0)
            head = f.read(512)
            if len(head) < 512:
                return f"{path} is too short for a region ({len(head)} bytes)"
            magic, abi = struct.unpack_from("<QI", head, 0)
            if magic != MAGIC:
                return f"{path} is not a marllb-shm region (magic {magic:#x})"
            if abi != ABI_VERSION:
                return f"{path} has ABI version {abi}, this script reads {ABI_VERSION}"
            ring_offset = struct.unpack_from("<Q", head, 64)[0]
            generation = struct.unpack_from("<Q", head, 128)[0]
            lb_pid = struct.unpack_from("<i", head, 164)[0]
            applied_seq, _, applied, rejected, stale, _, reason = struct.unpack_from("<QQQQQQI", head, 256)
            f.seek(ring_offset)
            published = struct.unpack("<Q", f.read(8))[0]
    except OSError as e:
        return f"cannot read {path}: {e.strerror}"
    return {"generation": generation, "lb_pid": lb_pid, "applied_action_seq": applied_seq, "actions_applied": applied,
            "actions_rejected": rejected, "actions_stale": stale, "last_reject_reason": reason, "published_seq": published}


def main():
    p = Parser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--world-csv", required=True, help="the world's result rows (its last row is read)")
    p.add_argument("--region", default="marllb_lb0", help="the LB's region name (under /dev/shm)")
    p.add_argument("--min-actions", type=int, default=1, help="actions the LB must have applied")
    p.add_argument("--wait-s", type=float, default=0,
                   help="wait this long for the region and for a new row of the world (0: both must be there)")
    args = p.parse_args()
    if args.min_actions < 0 or args.wait_s < 0:
        usage_error("--min-actions and --wait-s must be >= 0")
    if args.wait_s == 0:
        if not os.path.isfile(args.world_csv):
            usage_error(f"--world-csv {args.world_csv}: no such file: give the file of marllb-sim --role world --csv")
        if not world_rows(args.world_csv):
            usage_error(f"--world-csv {args.world_csv}: no row in it yet: let the world's run end first (or --wait-s)")
        check_world_row(args.world_csv, world_rows(args.world_csv)[-1])
    path = args.region if args.region.startswith("/") else os.path.join("/dev/shm", args.region)
    deadline = time.monotonic() + args.wait_s
    rows_before = len(world_rows(args.world_csv)) if args.wait_s else 0
    # Opened as soon as it exists: an LB that removes its region at exit (marllb-sim --role lb
    # without --keep-region) leaves it readable through this descriptor.
    f = None
    while f is None:
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        except OSError as e:
            usage_error(f"--region {args.region}: cannot read {path}: {e.strerror}")
    while args.wait_s and len(world_rows(args.world_csv)) <= rows_before:
        if time.monotonic() >= deadline:
            usage_error(f"--world-csv {args.world_csv}: no new row within --wait-s {args.wait_s:g}: is the world running?")
        time.sleep(0.1)
    row = check_world_row(args.world_csv, world_rows(args.world_csv)[-1])
    if f is None:
        print(f"world row: status {row['status']}")
        print(f"region {args.region}: no {path}: the LB never created it (plugin not loaded, or another name)")
        return 1
    v = read_header(path, f)
    if isinstance(v, str):
        print(f"region {args.region}: {v}")
        return 1

    ok = True
    sent, received = int(row["world_sent"]), int(row["world_received"])
    crossed = sent > 0 and received > 0
    print(f"world row: status {row['status']}, sent {sent} frames to the LB, received {received} back"
          + ("" if crossed else ": NO frames crossed the LB"))
    ok &= crossed
    published, applied, rejected = v["published_seq"], v["actions_applied"], v["actions_rejected"]
    print(f"region {args.region}: {published} observations published (LB generation {v['generation']}, "
          f"pid {v['lb_pid']}), {applied} actions applied, {rejected} rejected"
          + (f" (last reason code {v['last_reject_reason']}, core/include/marllb/shm_layout.h)" if rejected else ""))
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
