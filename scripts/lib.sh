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
