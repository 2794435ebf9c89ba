# Shared helpers for scripts/: sourced, not run.
set -euo pipefail
MARLLB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MARLLB_ROOT
# The package's pure-Python part (marllb.result_rows, ...) from the source tree, last: a build
# tree or venv put before it (with the extension, marllb.shm) wins.
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$MARLLB_ROOT/core/python"

say() { printf '[marllb] %s\n' "$*" >&2; }
die() { printf '[marllb] error: %s\n' "$*" >&2; exit 1; }
# A user error (an unknown option, a bad value): one line saying what and what to do, exit 2.
usage_error() { printf '[marllb] error: %s\n' "$*" >&2; exit 2; }

# Run as root, or through sudo when there is one.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "installing packages needs root: run as root or install sudo ($*)"
  fi
}

# The checkout's HEAD (12 hex digits), "-dirty" when a tracked file outside results/ differs
# from it, "unknown" outside a git checkout: the rule cmake/git_commit.cmake builds into the binaries.
git_commit() {
  local c
  c="$(git -C "$MARLLB_ROOT" rev-parse --short=12 HEAD 2>/dev/null)" || { echo unknown; return; }
  git -C "$MARLLB_ROOT" diff --quiet HEAD -- . ':(exclude)results' 2>/dev/null || c="$c-dirty"
  echo "$c"
}

project_version() { sed -n 's/^project(marllb_shm VERSION \([0-9.]*\).*/\1/p' "$MARLLB_ROOT/CMakeLists.txt"; }

# --help and --version of the script that sources this file, before it does anything else:
# --help prints its leading comment block (from the line after #! to the first line that is no
# comment), --version its name, the project's version and the checkout's commit; both exit 0.
# Arguments after "--" belong to another program and are not looked at.
#   help_and_version "$@"
help_and_version() {
  local script="${BASH_SOURCE[1]}" a
  for a in "$@"; do
    case "$a" in
      --) return 0 ;;
      -h|--help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$script"; exit 0 ;;
      --version) echo "$(basename "$script") $(project_version) (git $(git_commit))"; exit 0 ;;
    esac
  done
}

# A run id and the folder of a run that was not given --out: results/runs/<UTC time>-<pid>/,
# which git ignores (the C++ binaries' rule, marllb/measure/host.hpp run_id()). Exported as
# MARLLB_RUN_ID, so the rows of the binaries the script starts carry the same id.
new_run_id() {
  [ -n "${MARLLB_RUN_ID:-}" ] || MARLLB_RUN_ID="$(date -u +%Y%m%dT%H%M%SZ)-$$"
  export MARLLB_RUN_ID
}
default_run_dir() { new_run_id; echo "$MARLLB_ROOT/results/runs/$MARLLB_RUN_ID"; }

# Checks, before a run starts, that DIR can be made and written into (exit 2 otherwise).
check_out_dir() {
  local dir="$1" up="$1"
  while [ ! -e "$up" ]; do up="$(dirname "$up")"; done
  [ -d "$up" ] || usage_error "cannot write into '$dir': '$up' is not a directory (pass another --out)"
  [ -w "$up" ] || usage_error "cannot write into '$dir': '$up' is not writable (pass another --out)"
}

# Checks that the CSV at FILE is absent, empty, or has exactly HEADER as its first line (exit 2
# otherwise: rows of two column sets are never mixed in one file).
check_csv_header() {
  local file="$1" header="$2"
  [ -s "$file" ] || return 0
  [ "$(head -1 "$file")" = "$header" ] ||
    usage_error "'$file' has another column set (an older schema?): move it aside (e.g. into a before-* folder) or pass another --out; nothing was run"
}

# How busy the machine was while this shell's children ran: `others_share START` prints the
# percentage of all CPUs' time since START (`cpu_mark`) used by processes other than this
# shell's finished children (/proc/stat; hypervisor steal counts as used).
cpu_mark() {
  local busy total
  read -r busy total < <(awk '/^cpu /{b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6; exit}' /proc/stat)
  echo "$busy $total $(awk '{print $16 + $17}' "/proc/$$/stat")" # $$: the script's shell, also in $(...)
}
others_share() {
  local b0 t0 c0 b1 t1 c1
  read -r b0 t0 c0 <<< "$1"
  read -r b1 t1 c1 <<< "$(cpu_mark)"
  awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v c=$((c1 - c0)) 'BEGIN { s = t > 0 ? 100 * (b - c) / t : 0; printf "%.0f", s < 0 ? 0 : s }'
}
