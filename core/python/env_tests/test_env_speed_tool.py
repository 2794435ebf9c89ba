"""marllb-env-speed (marllb.tools.env_speed) end to end on a short run of the environment and the
vector: its rows, their parts, and a CSV it must not extend."""
import csv
import os
import subprocess
import sys

from marllb.tools import env_speed


def test_env_speed_writes_rows_of_its_columns_and_refuses_a_csv_it_cannot_extend(tmp_path):
    # marllb-env-speed end to end on a short run: one row per setup with every column of
    # ROW_COLUMNS filled, the parts' shares none below 0 and summing to the loop's wall time;
    # a CSV of other columns is refused with exit 2 before anything runs, and left as it was.
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(os.environ["MARLLB_SIM"]))))
    out = tmp_path / "speed.csv"
    cmd = [sys.executable, "-m", "marllb.tools.env_speed", "--build", build, "--episodes", "1", "--steps", "5",
           "--fresh-resets", "1"]
    r = subprocess.run(cmd + ["--csv", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["setup"] for row in rows] == ["1 env", "vector of 2"]
    for row in rows:
        assert list(row) == list(env_speed.ROW_COLUMNS) and all(v != "" for v in row.values()), row
        assert float(row["steps_per_s"]) > 0 and float(row["ceiling_vs_1_env"]) > 0
        shares = [float(row[f"{k}_share"]) for k in env_speed.PARTS]
        assert min(shares) >= 0 and abs(sum(shares) - 1) < 0.01, shares  # a part counted twice leaves one below 0
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    r = subprocess.run(cmd + ["--csv", str(other)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "other columns" in r.stderr and other.read_text() == "a,b\n1,2\n"
