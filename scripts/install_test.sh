#!/usr/bin/env bash
# The core library as a user gets it: builds it alone (-DMARLLB_LIBRARY_ONLY=ON, prefix /usr),
# installs it into a fresh DESTDIR and checks, each step failing the run:
#   1. the installed files are exactly the expected ones;
#   2. the shared library exports its public C and C++ API and nothing else
#      (core/tests/install/check_exports.py), under SONAME libmarllb_shm.so.<MARLLB_ABI_VERSION>;
#   3. a C consumer built with plain gcc and pkg-config, against the shared library and (with
#      pkg-config --static) the static one, publishes and reads through a region;
#   4. the seed's C snippets, verbatim (core/tests/install/seed_snippets), compile against the
#      installed headers with -Wall -Werror;
#   5. CMake projects using find_package(marllb_shm CONFIG) do the same in C++ and C (one of
#      them C only, as VPP's is, with a plugin-style shared object);
#   6. cpack's Debian packages hold exactly the installed files, split runtime/dev, with their
#      dependencies and the ldconfig trigger; lintian reports no error; the C consumer builds
#      and runs against the packages' contents.
# Regions get names unique to this run and are unlinked. About a minute and a half on 2 vCPUs.
#
#   scripts/install_test.sh [--work DIR] [--keep]
#     --work DIR  build and install there (an empty or new directory); default: a new
#                 temporary directory, removed at the end unless --keep
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"

work="" keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --work) [ $# -ge 2 ] || usage_error "--work needs a directory (e.g. --work /tmp/marllb-install)"
            work="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
for tool in gcc pkg-config cmake cpack dpkg-deb lintian /usr/bin/python3; do
  command -v "$tool" >/dev/null || usage_error "$tool is missing: run scripts/setup.sh (it installs scripts/debian-packages.txt)"
done
if [ -n "$work" ]; then
  mkdir -p "$work" 2>/dev/null && [ -w "$work" ] || usage_error "--work $work: cannot create or write it; name a writable directory"
  [ -z "$(ls -A "$work")" ] || usage_error "--work $work is not empty; name an empty or new directory"
  keep=1
else
  work="$(mktemp -d /tmp/marllb-install-test.XXXXXX)"
fi
region_prefix="marllb_install_test_$$"
cleanup() {
  rm -f /dev/shm/"$region_prefix"_*
  if [ $keep -eq 0 ]; then rm -rf "$work"; else say "kept $work"; fi
}
trap cleanup EXIT

src="$MARLLB_ROOT"
tests="$src/core/tests/install"
build="$work/build" root="$work/root"
fail() { printf '[marllb] FAILED: %s\n' "$*" >&2; exit 1; }
same_list() { # same_list WHAT EXPECTED_FILE ACTUAL_FILE
  if ! diff -u "$2" "$3" >"$work/diff.txt"; then
    cat "$work/diff.txt" >&2
    fail "$1 differ from the expected list (- expected, + found)"
  fi
}

say "configure and build the library alone (prefix /usr) in $build"
cmake -S "$src" -B "$build" -G Ninja -DMARLLB_LIBRARY_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX=/usr >"$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; fail "configure"; }
nice cmake --build "$build" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; fail "build"; }
DESTDIR="$root" cmake --install "$build" >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "install"; }

libdir="$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build/CMakeCache.txt")"
version="$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")"
abi="$(sed -n 's/^#define MARLLB_ABI_VERSION \([0-9]*\)u\{0,1\}$/\1/p' "$src/core/include/marllb/shm_layout.h")"
so_version="$abi.$(echo "$version" | cut -d. -f2-3)"
runtime_pkg="libmarllb-shm$abi" dev_pkg="libmarllb-shm-dev"
say "version $version, ABI $abi: libmarllb_shm.so.$abi -> libmarllb_shm.so.$so_version in /usr/$libdir"

# ---- 1. the installed files -------------------------------------------------------------
l="usr/$libdir"
cat >"$work/runtime.expected" <<EOF
$l/libmarllb_shm.so.$abi
$l/libmarllb_shm.so.$so_version
usr/share/doc/$runtime_pkg/changelog.gz
usr/share/doc/$runtime_pkg/copyright
EOF
cat >"$work/dev.expected" <<EOF
usr/include/marllb/seed/shm_layout.h
usr/include/marllb/seed_compat.h
usr/include/marllb/shm.h
usr/include/marllb/shm.hpp
usr/include/marllb/shm_layout.h
$l/cmake/marllb_shm/marllb_shmConfig.cmake
$l/cmake/marllb_shm/marllb_shmConfigVersion.cmake
$l/cmake/marllb_shm/marllb_shmTargets-release.cmake
$l/cmake/marllb_shm/marllb_shmTargets.cmake
$l/libmarllb_shm.a
$l/libmarllb_shm.so
$l/pkgconfig/marllb-shm-seed.pc
$l/pkgconfig/marllb-shm.pc
usr/share/doc/$dev_pkg/changelog.gz
usr/share/doc/$dev_pkg/copyright
EOF
sort "$work/runtime.expected" "$work/dev.expected" >"$work/all.expected"
(cd "$root" && find . ! -type d | sed 's|^\./||' | sort) >"$work/all.found"
same_list "the installed files" "$work/all.expected" "$work/all.found"
say "1. installed: $(wc -l <"$work/all.found") files, as expected"

# ---- 2. exports and SONAME --------------------------------------------------------------
soname="$(readelf -d "$root/$l/libmarllb_shm.so.$so_version" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
[ "$soname" = "libmarllb_shm.so.$abi" ] || fail "SONAME is '$soname', not libmarllb_shm.so.$abi (MARLLB_ABI_VERSION)"
/usr/bin/python3 "$tests/check_exports.py" "$root/$l/libmarllb_shm.so.$abi" "$root/usr/include" ||
  fail "the shared library's exports are not the public API"
say "2. SONAME $soname; exports are the public API"

# ---- 3. a C consumer: plain gcc + pkg-config ----------------------------------------------
export PKG_CONFIG_PATH="$root/$l/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root"
cflags="-std=c11 -Wall -Wextra -Werror"
# shellcheck disable=SC2046,SC2086  # pkg-config's output is a list of words
gcc $cflags -o "$work/c_consumer" "$tests/c_consumer/consumer.c" $(pkg-config --cflags --libs marllb-shm) ||
  fail "the C consumer does not build with gcc \$(pkg-config --cflags --libs marllb-shm)"
# (each tool's output is taken whole before grep looks at it: grep -q would close the pipe
# early, and pipefail would count the writer's SIGPIPE as a failure)
loaded="$(LD_LIBRARY_PATH="$root/$l" ldd "$work/c_consumer")"
grep -q "libmarllb_shm.so.$abi => $root/$l/" <<<"$loaded" ||
  fail "the C consumer does not load libmarllb_shm.so.$abi from the install"
LD_LIBRARY_PATH="$root/$l" "$work/c_consumer" "${region_prefix}_c" || fail "the C consumer (shared library)"
# Static: the archive by name, then what pkg-config --static says it needs (libstdc++, hwloc);
# --as-needed drops the shared library pkg-config also names.
# shellcheck disable=SC2046,SC2086
gcc $cflags -o "$work/c_consumer_static" "$tests/c_consumer/consumer.c" $(pkg-config --cflags marllb-shm) \
  -Wl,--as-needed -l:libmarllb_shm.a $(pkg-config --static --libs marllb-shm) ||
  fail "the C consumer does not link the static library with \$(pkg-config --static --libs marllb-shm)"
needed="$(readelf -d "$work/c_consumer_static")"
! grep -q "libmarllb_shm.so" <<<"$needed" || fail "the static C consumer needs the shared library"
"$work/c_consumer_static" "${region_prefix}_cs" || fail "the C consumer (static library)"
say "3. C consumer (gcc + pkg-config): shared and static links publish and read"

# ---- 4. the seed's C snippets, verbatim ---------------------------------------------------
snip="$tests/seed_snippets"
seed_doc="$src/../shared/seed/problem-02-shared-memory-ipc.md"
if [ -f "$seed_doc" ]; then # the fixtures are still the seed's lines
  for pair in layout_msg_out:77,102 layout_msg_in:114,130 layout_reservoir:138,146 c_api:275,298 vpp_plugin:328,344; do
    sed -n "${pair#*:}p" "$seed_doc" | cmp -s - "$snip/${pair%%:*}.snippet" ||
      fail "$snip/${pair%%:*}.snippet is not lines ${pair#*:} of $seed_doc"
  done
fi
seed_flags="-std=c11 -Wall -Werror"
{ # c_api.snippet: its #include at file scope, the LB's context, its statements as a body
  grep '^#include' "$snip/c_api.snippet"
  echo "#include \"$snip/c_api_context.h\""
  echo 'void seed_c_api(void);'
  echo 'void seed_c_api(void) {'
  grep -v '^#include' "$snip/c_api.snippet"
  echo '}'
  echo 'int main(void) { return 0; }'
} >"$work/seed_c_api.c"
# shellcheck disable=SC2046,SC2086
gcc $seed_flags -o "$work/seed_c_api" "$work/seed_c_api.c" $(pkg-config --cflags --libs marllb-shm-seed) ||
  fail "the seed's C API snippet does not compile against the installed headers with $seed_flags"
# shellcheck disable=SC2046,SC2086
gcc $seed_flags -Wno-return-type -I"$snip" -o "$work/seed_vpp" "$snip/vpp_plugin_harness.c" \
  $(pkg-config --cflags --libs marllb-shm-seed) ||
  fail "the seed's VPP plugin snippet does not compile against the installed headers"
# shellcheck disable=SC2046,SC2086
gcc $seed_flags -I"$snip" -o "$work/seed_layout" "$snip/layout_harness.c" $(pkg-config --cflags marllb-shm) ||
  fail "the seed's layout is not the installed ABI (layout_harness.c)"
say "4. the seed's snippets (C API, VPP plugin, layout) compile with $seed_flags"

# ---- 5. a CMake consumer: find_package ----------------------------------------------------
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
cmake -S "$tests/cmake_consumer" -B "$work/cmake_consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$root/usr" >"$work/consumer.log" 2>&1 &&
  nice cmake --build "$work/cmake_consumer" >>"$work/consumer.log" 2>&1 ||
  { cat "$work/consumer.log" >&2; fail "the CMake consumer does not build with find_package(marllb_shm CONFIG)"; }
for t in cxx_consumer cxx_consumer_static c_consumer_static; do
  "$work/cmake_consumer/$t" "${region_prefix}_$t" || fail "the CMake consumer's $t"
done
needed="$(readelf -d "$work/cmake_consumer/cxx_consumer")"
grep -q "NEEDED.*libmarllb_shm.so.$abi" <<<"$needed" ||
  fail "marllb::shm did not link the shared library"
# A C-only project, as VPP's is: a plugin-style shared object, the static library from C, the
# seed's VPP snippet on marllb::shm_seed.
cmake -S "$tests/cmake_consumer_c" -B "$work/cmake_consumer_c" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$root/usr" >"$work/consumer_c.log" 2>&1 &&
  nice cmake --build "$work/cmake_consumer_c" >>"$work/consumer_c.log" 2>&1 ||
  { cat "$work/consumer_c.log" >&2; fail "the C-only CMake consumer does not build with find_package(marllb_shm CONFIG)"; }
needed="$(readelf -d "$work/cmake_consumer_c/plugin.so")"
grep -q "NEEDED.*libmarllb_shm.so.$abi" <<<"$needed" || fail "the plugin did not link the shared library"
"$work/cmake_consumer_c/c_consumer_static" "${region_prefix}_cmake_c" || fail "the C-only CMake consumer's c_consumer_static"
say "5. CMake consumers (find_package): C++ on marllb::shm and marllb::shm_static; a C-only project's plugin on marllb::shm, C on marllb::shm_static, the seed's VPP snippet on marllb::shm_seed"

# ---- 6. Debian packages -------------------------------------------------------------------
(cd "$build" && cpack -G DEB >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; fail "cpack"; }
arch="$(dpkg --print-architecture)"
runtime_deb="$build/packages/${runtime_pkg}_${version}_$arch.deb"
dev_deb="$build/packages/${dev_pkg}_${version}_$arch.deb"
for deb in "$runtime_deb" "$dev_deb"; do [ -f "$deb" ] || fail "cpack made no $deb"; done
dpkg-deb -c "$runtime_deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./||' | sort >"$work/runtime.found"
dpkg-deb -c "$dev_deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./||' | sort >"$work/dev.found"
sort -o "$work/runtime.expected" "$work/runtime.expected"
sort -o "$work/dev.expected" "$work/dev.expected"
same_list "$runtime_pkg's files" "$work/runtime.expected" "$work/runtime.found"
same_list "$dev_pkg's files" "$work/dev.expected" "$work/dev.found"
depends="$(dpkg-deb -f "$runtime_deb" Depends)"
for dep in libc6 libstdc++6 libhwloc15; do
  [[ "$depends" == *"$dep "* ]] || fail "$runtime_pkg does not depend on $dep (Depends: $depends)"
done
[ "$(dpkg-deb -f "$dev_deb" Depends)" = "$runtime_pkg (= $version), libhwloc-dev" ] ||
  fail "$dev_pkg's Depends is '$(dpkg-deb -f "$dev_deb" Depends)', not '$runtime_pkg (= $version), libhwloc-dev'"
lintian --fail-on error --tag-display-limit 0 "$runtime_deb" "$dev_deb" >"$work/lintian.txt" 2>&1 || {
  cat "$work/lintian.txt" >&2
  fail "lintian reports errors"
}
sed 's/^/  lintian: /' "$work/lintian.txt" | grep -v "root privileges" >&2 || true
triggers="$(dpkg-deb -I "$runtime_deb" triggers 2>/dev/null || true)"
grep -qx "activate-noawait ldconfig" <<<"$triggers" || fail "$runtime_pkg has no ldconfig trigger"
# The packages' contents are enough to build and run a consumer.
mkdir "$work/debroot"
dpkg-deb -x "$runtime_deb" "$work/debroot" && dpkg-deb -x "$dev_deb" "$work/debroot"
# shellcheck disable=SC2046,SC2086
PKG_CONFIG_PATH="$work/debroot/$l/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$work/debroot" \
  gcc $cflags -o "$work/c_consumer_deb" "$tests/c_consumer/consumer.c" \
  $(PKG_CONFIG_PATH="$work/debroot/$l/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$work/debroot" pkg-config --cflags --libs marllb-shm) ||
  fail "the C consumer does not build against the packages' contents"
LD_LIBRARY_PATH="$work/debroot/$l" "$work/c_consumer_deb" "${region_prefix}_deb" || fail "the C consumer against the packages"
say "6. $(basename "$runtime_deb"), $(basename "$dev_deb"): contents and dependencies as expected, no lintian error, a consumer builds from them"
say "install test passed"
