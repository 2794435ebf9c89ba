#!/usr/bin/env bash
# Installs the Debian packages the project needs (once: skipped when all are present),
# then configures and builds the given CMake presets (default: release).
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

cd "$MARLLB_ROOT"
install_packages
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release)
for p in "${presets[@]}"; do build_preset "$p"; done
