"""What the project's Python scripts share when they write result rows: the host metadata every
row carries (as marllb/measure/host.hpp gives the C++ binaries) and an append that refuses a CSV
of another column set instead of mixing schemas in one file.

    from marllb import result_rows
    result_rows.append_rows("out.csv", [{"git_commit": result_rows.git_commit(__file__), ...}])
"""
import csv
import os
import platform
import subprocess

from marllb import __version__  # noqa: F401


def cpu_model():
    """The CPU's model name from /proc/cpuinfo ('unknown' when there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit(where=None):
    """HEAD of the git checkout holding `where` (a file or a directory; default: the current
    directory), 12 hex digits, '-dirty' when a tracked file outside results/ differs from it
    ('unknown' outside a git checkout): the rule the binaries are built with
    (cmake/git_commit.cmake) and scripts/lib.sh follows. Scripts pass their own __file__: the
    package itself may be installed anywhere."""
    where = os.path.abspath(where or os.getcwd())
    if not os.path.isdir(where):
        where = os.path.dirname(where)
    r = subprocess.run(["git", "-C", where, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    commit = r.stdout.strip() or "unknown"
    if commit != "unknown":
        top = subprocess.run(["git", "-C", where, "rev-parse", "--show-toplevel"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", top.stdout.strip(), "diff", "--quiet", "HEAD", "--", ".", ":(exclude)results"],
                               capture_output=True).returncode == 1
        commit += "-dirty" if dirty else ""
    return commit


def csv_target_problem(path, columns, make_folder=False):
    """Why rows of `columns` cannot be appended to the CSV at path, or None when they can: for a
    script to check before its run, not after it. make_folder: a missing folder is fine if it
    can be made; it is made to prove that, then removed again (append_rows makes it), so a run
    refused for another reason leaves nothing behind."""
    folder = os.path.dirname(os.path.abspath(path))
    made = []  # the folders this check makes, deepest first
    if make_folder:
        d = folder
        while not os.path.lexists(d):
            made.append(d)
            d = os.path.dirname(d)
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            made = [d for d in made if os.path.isdir(d)]
            _remove(made)
            return f"cannot make its folder ({e.strerror}); give a path in a writable folder"
    try:
        if (not os.path.isdir(folder) or not os.access(folder, os.W_OK) or os.path.isdir(path)
                or (os.path.exists(path) and not os.access(path, os.W_OK))):
            return "cannot write there; give a path in a writable folder"
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path, newline="") as f:
                if next(csv.reader(f), []) != list(columns):
                    return "has other columns than these rows; move it aside (e.g. into a before-* folder) or write to another file"
        return None
    finally:
        _remove(made)


def _remove(folders):
    """Removes the empty folders given deepest first (the ones a check made)."""
    for d in folders:
        try:
            os.rmdir(d)
        except OSError:
            pass


def append_rows(path, rows, columns=None):
    """Appends dict rows to the CSV at path (header written when the file is new or empty).
    Raises SystemExit with what to do when the file's header is not these columns."""
    if not rows:
        return
    columns = list(columns or rows[0])
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    if not new:
        with open(path, newline="") as f:
            header = next(csv.reader(f), [])
        if header != columns:
            raise SystemExit(f"{path} has other columns than these rows; move it aside (e.g. into a before-* "
                             "folder) or write to another file")
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        if new:
            w.writeheader()
        w.writerows(rows)


def version(prog, where=None):
    """The --version line of a script: its name and the commit of the checkout holding `where`
    (the script's own path; default: the current directory)."""
    return f"{prog} (git {git_commit(where)})"


def answer_help_and_version(prog, args, doc, where=None):
    """For a tool that reads its arguments itself: --help in args prints doc, --version
    version(prog, where); both exit 0 before anything else runs."""
    if any(a in ("-h", "--help") for a in args):
        print(doc.strip())
        raise SystemExit(0)
    if "--version" in args:
        print(version(prog, where))
        raise SystemExit(0)
