"""The sweep file: what to run, its parameters and seeds, where its rows go; and the runs it
expands to, each with a stable id.

A cell is one set of option values (the fixed options, one combination of the grid, one position
of the zipped lists); its id is a hash of the kind, the program and those values, so a changed
cell is a new id. A run is a cell with one seed: the unit the engines schedule, in its own
folder <out>/runs/<cell id>/seed-<seed>/ (done.json there when its rows are in).
"""
import hashlib
import itertools
import json
import os
import re
import shlex

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None


class UserError(Exception):
    """A bad sweep file or command line: one line, the CLI exits 2."""


# What each kind runs, which options the sweep sets itself, and where a run's rows are.
#   program:   default program (relative to the checkout), None: the file must name one
#   seed:      the option that takes the seed (None: the seed only numbers repetitions)
#   out:       the option that takes the run's output: ("file", name) or ("dir", None)
#   rows:      the run's rows: a file name in its folder, or "*.csv"
#   resumable: a stopped run continues from what it left in its folder (a training's checkpoint)
KINDS = {
    "sim": {"program": "build/release/sim/apps/marllb-sim", "seed": "seed", "out": ("csv", "rows.csv"),
            "rows": "rows.csv", "timing": False},
    "scenario": {"program": None, "program_dir": "build/release/scenarios", "seed": None,
                 "out": ("out", None), "rows": "*.csv", "timing": True},
    "train": {"program": "scripts/train.sh", "seed": "seed", "out": ("out", None), "rows": "progress.csv",
              "timing": False, "resumable": True},
    "evaluate": {"program": "scripts/evaluate.sh", "seed": "first_seed", "out": ("csv", "rows.csv"),
                 "rows": "rows.csv", "timing": False},
}
SWEEP_KEYS = {
    "kind": "what each run is: " + ", ".join(KINDS),
    "name": "a name for the sweep (job names, messages); default: the file's name",
    "out": "the output folder (relative to the checkout; --out overrides)",
    "seeds": "the seeds: a list of whole numbers, each cell runs once per seed",
    "program": "the program (scenario: its binary, e.g. marllb-scenario-cadence)",
    "timing": "true: runs one at a time (local) or alone on a node (slurm)",
    "estimate_s": "seconds a run takes, when the kind cannot tell from the options",
    "metrics": "row columns the summary covers (default: every numeric column)",
    "by": "row columns that split a run's rows in the summary (e.g. policy, workload)",
}
TABLES = ("sweep", "options", "grid", "zip")
OPTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def option_flag(key):
    return "--" + key.replace("_", "-")


class Source:
    """The file's text, to find the line of a key for a semantic error."""

    def __init__(self, path, text):
        self.path, self.lines = path, text.splitlines()

    def line_of(self, table, key=None):
        current = None
        for n, raw in enumerate(self.lines, 1):
            line = raw.strip()
            m = re.match(r"^\[\s*([A-Za-z0-9_\"-]+)\s*\]", line)
            if m:
                current = m.group(1).strip('"')
                if key is None and current == table:
                    return n
                continue
            if current == table and key is not None and re.match(r'^"?' + re.escape(key) + r'"?\s*=', line):
                return n
        return 1

    def error(self, msg, table, key=None):
        return UserError(f"{self.path}:{self.line_of(table, key)}: {msg}")


class Run:
    def __init__(self, cell, seed):
        self.cell, self.seed = cell, seed
        self.id = f"{cell.id}-s{seed}"

    def folder(self, out):
        return os.path.join(out, "runs", self.cell.id, f"seed-{self.seed}")

    def failed_folder(self, out):
        return self.folder(out) + ".failed"

    def state(self, out):
        if os.path.exists(os.path.join(self.folder(out), "done.json")):
            return "done"
        if os.path.exists(os.path.join(self.failed_folder(out), "failed.json")):
            return "failed"
        return "to run"

    def meta(self, out):
        for name in (os.path.join(self.folder(out), "done.json"), os.path.join(self.failed_folder(out), "failed.json")):
            try:
                with open(name) as f:
                    return json.load(f)
            except (OSError, ValueError):
                continue
        return None

    def command(self, sweep, folder):
        """The argv of this run writing into folder."""
        kind = KINDS[sweep.kind]
        argv = [sweep.program_path()]
        for key, value in self.cell.options.items():
            argv += option_args(key, value)
        if kind["seed"]:
            argv += [option_flag(kind["seed"]), str(self.seed)]
        opt, name = kind["out"]
        argv += [option_flag(opt), os.path.join(folder, name) if name else folder]
        return argv


def option_args(key, value):
    if value is True:
        return [option_flag(key)]
    if value is False:
        return []
    if isinstance(value, list):
        return [option_flag(key)] + [str(v) for v in value]
    return [option_flag(key), str(value)]


class Cell:
    def __init__(self, sweep, options, varying):
        self.options = options          # every option of the cell, in the file's order
        self.varying = varying          # the grid and zip values of this cell
        canon = json.dumps({"kind": sweep.kind, "program": sweep.program, "options": options},
                           sort_keys=True, separators=(",", ":"))
        self.id = hashlib.sha256(canon.encode()).hexdigest()[:12]


class Sweep:
    def __init__(self, path, data, source, root, out_override=None):
        self.path, self.root = path, root
        s = data.get("sweep")
        for table in data:
            if table not in TABLES:
                known = ", ".join(f"[{t}]" for t in TABLES)
                raise source.error(f"unknown table [{table}] (known: {known})", table)
            if not isinstance(data[table], dict):
                raise source.error(f"'{table}' must be a table ([{table}])", table)
        if s is None:
            raise UserError(f"{path}:1: no [sweep] table: it names the kind, seeds and out (see docs/sweeps.md)")
        for key in s:
            if key not in SWEEP_KEYS:
                raise source.error(f"unknown key '{key}' in [sweep] (known: {', '.join(SWEEP_KEYS)})", "sweep", key)
        self.kind = s.get("kind")
        if self.kind not in KINDS:
            if "kind" not in s:
                raise source.error(f"[sweep] has no kind: set kind to one of {', '.join(KINDS)}", "sweep")
            raise source.error(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}", "sweep", "kind")
        self.name = s.get("name", os.path.splitext(os.path.basename(path))[0])
        if not isinstance(self.name, str) or not re.match(r"^[A-Za-z0-9._-]+$", self.name):
            raise source.error("name must be letters, digits, '.', '_' or '-'", "sweep", "name")
        seeds = s.get("seeds")
        if seeds is None:
            raise source.error("[sweep] has no seeds: set seeds = [1, 2, 3] (each cell runs once per seed)", "sweep")
        if (not isinstance(seeds, list) or not seeds or not all(type(x) is int and x >= 0 for x in seeds)
                or len(set(seeds)) != len(seeds)):
            raise source.error("seeds must be a non-empty list of distinct whole numbers >= 0, e.g. [1, 2, 3]",
                               "sweep", "seeds")
        self.seeds = seeds
        # out in the file is relative to the checkout (as the options' paths are), --out to the
        # current directory: a sweep resumes from the same folder wherever it is started.
        out = os.path.abspath(out_override) if out_override is not None else s.get("out")
        if out is None:
            raise source.error("[sweep] has no out: set out = \"results/sweeps/NAME\" or pass --out DIR", "sweep")
        if not isinstance(out, str) or not out:
            raise source.error("out must be a folder name (a string)", "sweep", "out")
        self.out = os.path.join(root, out)
        self.program = s.get("program", KINDS[self.kind]["program"])
        if self.program is None:
            raise source.error(f"kind {self.kind!r} needs program = \"...\" (e.g. marllb-scenario-cadence)", "sweep")
        if not isinstance(self.program, str) or not self.program:
            raise source.error("program must be a string", "sweep", "program")
        self.timing = s.get("timing")
        if self.timing is not None and not isinstance(self.timing, bool):
            raise source.error("timing must be true or false", "sweep", "timing")
        self.estimate_s = s.get("estimate_s")
        if self.estimate_s is not None and (type(self.estimate_s) not in (int, float) or not self.estimate_s > 0):
            raise source.error("estimate_s must be a number of seconds > 0", "sweep", "estimate_s")
        for key in ("metrics", "by"):
            v = s.get(key, [])
            if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
                raise source.error(f"{key} must be a list of column names", "sweep", key)
        self.metrics, self.by = s.get("metrics", []), s.get("by", [])

        kind = KINDS[self.kind]
        reserved = {kind["out"][0]: "each run's output goes to its own folder (set out in [sweep])"}
        if kind["seed"]:
            reserved[kind["seed"]] = "the seed comes from seeds in [sweep]"
        seen = {}
        for table in ("options", "grid", "zip"):
            for key, value in data.get(table, {}).items():
                if not OPTION_NAME.match(key):
                    raise source.error(f"'{key}' is no option name (letters, digits, '_', '-')", table, key)
                if key.replace("-", "_") in reserved:
                    raise source.error(f"'{key}' is set by the sweep: {reserved[key.replace('-', '_')]}", table, key)
                if key in seen:
                    raise source.error(f"'{key}' is in [{seen[key]}] and [{table}]: give it in one of them", table, key)
                seen[key] = table
                if table == "options":
                    if not scalar_or_list(value):
                        raise source.error(f"'{key}' must be a string, number, boolean or list of them", table, key)
                elif not isinstance(value, list) or not value or not all(scalar_or_list(v) for v in value):
                    raise source.error(f"'{key}' in [{table}] must be a non-empty list of values", table, key)
        zips = data.get("zip", {})
        lengths = {k: len(v) for k, v in zips.items()}
        if len(set(lengths.values())) > 1:
            first = next(iter(lengths))
            other = next(k for k in lengths if lengths[k] != lengths[first])
            raise source.error(f"the lists of [zip] must have one length: '{first}' has {lengths[first]} values, "
                               f"'{other}' has {lengths[other]}", "zip", other)
        fixed, grid = data.get("options", {}), data.get("grid", {})
        self.varying_keys = list(grid) + list(zips)
        zipped = [dict(zip(zips, values)) for values in zip(*zips.values())] if zips else [{}]
        self.cells, ids = [], {}
        for combo in itertools.product(*grid.values()):
            for z in zipped:
                varying = dict(zip(grid, combo), **z)
                options = {k: (varying[k] if k in varying else fixed[k]) for k in list(fixed) + self.varying_keys
                           if k in fixed or k in varying}
                cell = Cell(self, options, varying)
                if cell.id in ids:
                    raise source.error("two cells have the same options: a value is repeated in [grid] or [zip]",
                                       "grid" if grid else "zip")
                ids[cell.id] = cell
                self.cells.append(cell)
        self.runs = [Run(c, seed) for c in self.cells for seed in self.seeds]
        self.by_id = {r.id: r for r in self.runs}

    def program_path(self):
        p = self.program
        if "/" not in p and KINDS[self.kind].get("program_dir"):
            p = os.path.join(KINDS[self.kind]["program_dir"], p)
        return os.path.join(self.root, p)

    def check_program(self):
        p = self.program_path()
        if not os.access(p, os.X_OK):
            target = os.path.basename(p)
            raise UserError(f"{p} is not there: build it first (scripts/setup.sh --targets {target} release) "
                            f"or set program in {self.path}")

    def is_timing(self, cell):
        if self.timing is not None:
            return self.timing
        if self.kind == "sim":
            return cell.options.get("flood") is True
        return KINDS[self.kind]["timing"]

    def estimate(self, cell, out):
        """(seconds or None, how it was found) for one run of cell."""
        done = [r.meta(out) for r in self.runs if r.cell is cell and r.state(out) == "done"]
        walls = [m["wall_s"] for m in done if m and isinstance(m.get("wall_s"), (int, float))]
        if walls:
            return sum(walls) / len(walls), f"measured, {len(walls)} run{'s' * (len(walls) > 1)}"
        o = cell.options
        if self.kind == "sim":
            if o.get("flood") is True:
                return 2 * float(o.get("flood_seconds", 3)) + 1, "2 phases x flood_seconds + 1 s"
            if o.get("lockstep") is not True:
                return float(o.get("duration", 20)) + 1, "duration + 1 s"
        if self.kind == "scenario" and isinstance(o.get("seconds"), (int, float)):
            return float(o["seconds"]) + 1, "seconds + 1 s"
        if self.estimate_s is not None:
            return float(self.estimate_s), "estimate_s"
        return None, "unknown: set estimate_s in [sweep]"

    def rows_files(self, folder):
        pattern = KINDS[self.kind]["rows"]
        if pattern == "*.csv":
            try:
                return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".csv"))
            except OSError:
                return []
        p = os.path.join(folder, pattern)
        return [p] if os.path.exists(p) else []

    def shell_command(self, run):
        return shlex.join(run.command(self, run.folder(self.out)))


def scalar_or_list(v):
    if isinstance(v, (str, bool, int, float)):
        return True
    return isinstance(v, list) and all(isinstance(x, (str, bool, int, float)) for x in v)


def find_root(path):
    """The checkout holding the sweep file (MARLLB_ROOT when set): commands run there, so a
    relative path in an option is relative to it."""
    env = os.environ.get("MARLLB_ROOT")
    if env:
        return os.path.abspath(env)
    d = os.path.dirname(os.path.abspath(path))
    while True:
        if os.path.exists(os.path.join(d, ".git")):
            return d
        up = os.path.dirname(d)
        if up == d:
            return os.path.dirname(os.path.abspath(path))
        d = up


def load(path, out=None):
    if tomllib is None:
        raise UserError("reading a sweep file needs Python 3.11 (tomllib): run it with /usr/bin/python3")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise UserError(f"cannot read the sweep file {path}: {e.strerror}")
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise UserError(f"{path}:1: not UTF-8 text: a sweep file is TOML")
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"^(.*) \(at line (\d+), column (\d+)\)$", str(e))
        if m:
            raise UserError(f"{path}:{m.group(2)}:{m.group(3)}: {m.group(1)}")
        raise UserError(f"{path}: {e}")
    return Sweep(path, data, Source(path, text), find_root(path), out)
