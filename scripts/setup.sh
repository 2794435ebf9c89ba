#!/usr/bin/env bash
# Installs the Debian packages the project needs (once: skipped when all are present),
# then configures and builds the given CMake presets (default: release). With the release
# preset it also installs the Python module (marllb_shm, and the seed's name shm_layout) into
# the site-packages of /usr/bin/python3, or of $MARLLB_PYTHON (e.g. a venv's python), so
# agents import it without PYTHONPATH (core/python/install.py; a copy, refreshed on each run).
#
#   scripts/setup.sh [PRESET ...]        e.g. scripts/setup.sh release tsan asan
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_packages() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this project targets Debian 12"
  mapfile -t wanted < <(grep -vE '^\s*(#|$)' "$MARLLB_ROOT/scripts/debian-packages.txt")
  local missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "all ${#wanted[@]} Debian packages present"
    return
  fi
  say "installing ${#missing[@]} Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
}

build_preset() {
  local preset="$1"
  say "configuring and building preset '$preset' in build/$preset"
  cmake --preset "$preset" -S "$MARLLB_ROOT" >/dev/null || die "cmake configure failed for preset $preset"
  cmake --build --preset "$preset" || die "build failed for preset $preset"
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
install_packages
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release)
for p in "${presets[@]}"; do build_preset "$p"; done
case " ${presets[*]} " in *" release "*) install_python_module ;; esac
