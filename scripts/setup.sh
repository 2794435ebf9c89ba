#!/usr/bin/env bash
# Installs the Debian packages the project needs (checked once per change of
# scripts/debian-packages.txt: a stamp in build/ remembers the list that was found complete),
# then configures (when the preset has no build tree yet; afterwards ninja re-runs CMake by
# itself when a CMakeLists.txt changed) and builds the given CMake presets (default: release).
# A build with nothing changed is ninja's no-op: well under a second.
# With the release preset (and the Python module among the targets built) it also installs
# the module (marllb_shm, and the seed's name shm_layout) into the site-packages of
# /usr/bin/python3, or of $MARLLB_PYTHON (e.g. a venv's python), so agents import it without
# PYTHONPATH (core/python/install.py; a copy, refreshed on each run).
#
#   scripts/setup.sh [--targets T1,T2] [PRESET ...]   e.g. scripts/setup.sh release tsan asan
#                                                          scripts/setup.sh --targets marllb-sim release
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"

PACKAGES="$MARLLB_ROOT/scripts/debian-packages.txt"
STAMP="$MARLLB_ROOT/build/.debian-packages.sha256"

install_packages() {
  local sum
  sum="$(sha256sum "$PACKAGES" | cut -d' ' -f1)"
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$sum" ]; then
    return # this list was found installed before (remove build/.debian-packages.sha256 to check again)
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this project targets Debian 12"
  mapfile -t wanted < <(grep -vE '^\s*(#|$)' "$PACKAGES")
  local missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${#missing[@]} Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      || die "apt-get install failed for: ${missing[*]}"
  fi
  say "all ${#wanted[@]} Debian packages present"
  mkdir -p "$(dirname "$STAMP")" && echo "$sum" > "$STAMP"
}

build_preset() {
  local preset="$1"
  if [ ! -f "$MARLLB_ROOT/build/$preset/build.ninja" ]; then
    say "configuring preset '$preset' in build/$preset"
    cmake --preset "$preset" -S "$MARLLB_ROOT" >/dev/null || die "cmake configure failed for preset $preset"
  fi
  local args=()
  [ ${#targets[@]} -eq 0 ] || args=(--target "${targets[@]}")
  cmake --build --preset "$preset" "${args[@]}" || die "build failed for preset $preset"
}

# The module is copied, not linked to the build tree: rebuilding or cleaning build/ leaves
# the installed one working, and each run of this script refreshes it.
install_python_module() {
  local py="${MARLLB_PYTHON:-/usr/bin/python3}" dest
  dest="$("$py" "$MARLLB_ROOT/core/python/install.py" --print-dir)" || die "$py cannot run core/python/install.py"
  say "installing the Python module for $py into $dest"
  if [ -w "$dest" ] || { [ ! -e "$dest" ] && [ -w "$(dirname "$dest")" ]; }; then
    "$py" "$MARLLB_ROOT/core/python/install.py" --build "$MARLLB_ROOT/build/release" >/dev/null
  else
    as_root "$py" "$MARLLB_ROOT/core/python/install.py" --build "$MARLLB_ROOT/build/release" >/dev/null
  fi || die "installing the Python module failed (see above)"
}

cd "$MARLLB_ROOT"
targets=()
presets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) [ $# -ge 2 ] || die "--targets needs a comma-separated list"; IFS=, read -ra targets <<< "$2"; shift 2 ;;
    *) presets+=("$1"); shift ;;
  esac
done
install_packages
[ ${#presets[@]} -gt 0 ] || presets=(release)
for p in "${presets[@]}"; do build_preset "$p"; done
case " ${presets[*]} " in
  *" release "*) if [ ${#targets[@]} -eq 0 ] || [[ " ${targets[*]} " == *" marllb_shm_python "* ]]; then install_python_module; fi ;;
esac
