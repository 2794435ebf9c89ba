#!/bin/sh
# Proves that the library's prefetches for write are PREFETCHW on x86-64: each function that
# fetches lines before it writes them (LbRegion::prefetch_next_slot and rehearse,
# AgentRegion::rehearse) holds a prefetchw. __builtin_prefetch(p, 1) without -mprfchw
# compiles to prefetcht0, a read prefetch: the lines then arrive shared, and the first store
# to each still waits for ownership, which is the wait these functions are there to remove.
# Usage: prefetch_for_write.sh LIBRARY. Exit 77 (skipped) off x86-64.
set -eu
lib=$1
case "$(uname -m)" in x86_64) ;; *) echo "not x86-64: nothing to check"; exit 77 ;; esac
command -v objdump >/dev/null || { echo "objdump not found: install binutils" >&2; exit 2; }
[ -r "$lib" ] || { echo "cannot read the library '$lib'" >&2; exit 2; }
# Each function's header line, then its instructions: "  addr:<TAB>mnemonic operands". The
# mnemonic field alone is compared (a symbol's name in an operand's comment is not code).
code=$(objdump -d -C --no-show-raw-insn "$lib")
if ! printf '%s\n' "$code" | grep -q '^[0-9a-f]* <.*>:$'; then
    echo "no machine code in '$lib' (an LTO build keeps compiler IR in its objects): nothing to check"
    exit 77
fi
with=$(printf '%s\n' "$code" |
       awk '/^[0-9a-f]+ <.*>:$/ { fn = $0; next } $2 == "prefetchw" { print fn }' | sort -u)
status=0
for fn in 'marllb::shm::LbRegion::prefetch_next_slot() const' \
          'marllb::shm::LbRegion::rehearse() const' \
          'marllb::shm::AgentRegion::rehearse() const'; do
    if printf '%s\n' "$with" | grep -qF "<$fn>:"; then
        echo "ok: $fn prefetches with prefetchw"
    else
        echo "FAIL: $fn has no prefetchw (a read prefetch leaves its lines shared)"
        status=1
    fi
done
exit $status
