#!/usr/bin/env bash
# Installs the Debian packages the project needs (checked once per change of
# scripts/debian-packages.txt: a stamp in build/ remembers the list that was found complete),
# then configures (when the preset has no build tree yet; afterwards ninja re-runs CMake by
# itself when a CMakeLists.txt changed) and builds the given CMake presets (default: release).
# A build with nothing changed is ninja's no-op: well under a second.
# It writes nothing into any Python interpreter: the build tree's core/python is importable
# (PYTHONPATH=build/release/core/python), and --venv DIR pip-installs the package into a venv
# (made with /usr/bin/python3 -m venv --system-site-packages when DIR has none).
#
#   scripts/setup.sh [--targets T1,T2] [--venv DIR] [PRESET ...]   e.g. scripts/setup.sh release tsan asan
#                                                                       scripts/setup.sh --venv .venv release
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


# pip installs the checkout into the venv (pyproject.toml; Debian's setuptools and pybind11,
# no package index): a copy that outlives build/, refreshed by each run with --venv.
install_into_venv() {
  local venv="$1"
  if [ ! -x "$venv/bin/python" ]; then
    say "making a venv in $venv (/usr/bin/python3 -m venv --system-site-packages: Debian's numpy)"
    /usr/bin/python3 -m venv --system-site-packages "$venv" || die "cannot make a venv in $venv: give a folder you can write to"
  fi
  say "pip install of $MARLLB_ROOT into $venv"
  nice "$venv/bin/python" -m pip install -q --no-build-isolation --no-index "$MARLLB_ROOT" \
    || die "pip install into $venv failed (see above)"
  say "installed: $venv/bin/python -c 'import marllb'"
}

# Earlier versions of this script copied four flat modules into /usr/bin/python3's
# site-packages, where pip does not see them: say where they are (removing is the user's call).
note_flat_modules() {
  local site
  site="$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_path("platlib"))' 2>/dev/null)" || return 0
  local old=("$site"/marllb_shm*.so)
  [ -e "${old[0]}" ] || return 0
  say "note: $site holds marllb_shm, shm_layout, marllb_env, marllb_reward copied by an older setup.sh;" \
      "pip knows nothing of them: rm $site/{marllb_shm*.so,shm_layout.py,marllb_env.py,marllb_reward.py}"
}

cd "$MARLLB_ROOT"
targets=()
presets=()
venv=""
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) [ $# -ge 2 ] || die "--targets needs a comma-separated list"; IFS=, read -ra targets <<< "$2"; shift 2 ;;
    --venv) [ $# -ge 2 ] && [ -n "$2" ] || usage_error "--venv needs a folder (a venv, or where to make one)"; venv="$2"; shift 2 ;;
    *) presets+=("$1"); shift ;;
  esac
done
# --venv is checked before anything is built: a venv, or a new folder where one can be made.
if [ -n "$venv" ] && [ ! -x "$venv/bin/python" ]; then
  [ ! -e "$venv" ] || [ -d "$venv" ] || usage_error "--venv $venv exists and is not a folder: give a venv folder or a new path"
  [ -w "$(dirname "$venv")" ] || [ -w "$venv" ] || usage_error "--venv $venv: cannot write there: give a folder you can write to"
fi
install_packages
[ ${#presets[@]} -gt 0 ] || presets=(release)
for p in "${presets[@]}"; do build_preset "$p"; done
note_flat_modules
[ -z "$venv" ] || install_into_venv "$venv"
