# Shared helpers for scripts/: sourced, not run.
set -euo pipefail
MARLLB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MARLLB_ROOT

say() { printf '[marllb] %s\n' "$*" >&2; }
die() { printf '[marllb] error: %s\n' "$*" >&2; exit 1; }

# Run as root, or through sudo when there is one.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "installing packages needs root: run as root or install sudo ($*)"
  fi
}

git_commit() { git -C "$MARLLB_ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown; }

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
