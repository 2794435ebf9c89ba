#!/usr/bin/env python3
"""Checks that the shared library exports its public API and nothing else.

    check_exports.py LIBRARY INCLUDE_DIR

Public, read from the installed headers (INCLUDE_DIR/marllb): every function marllb/shm.h
declares (its static inline helpers excepted), and every out-of-line function marllb/shm.hpp
declares in a public section (detail::Mapping included: the region classes' inline moves and
destructors call it). Each must be a defined dynamic symbol of LIBRARY (nm -D --defined-only).
Every defined dynamic symbol must in turn be one of those C functions, or in namespace
marllb::shm outside marllb::shm::detail (Mapping excepted) and not a private function of a
class, or the version node MARLLB_SHM_<ABI>. Exit 0 when both
hold, 1 with the symbols that break them, 2 on bad arguments.
"""
import re
import subprocess
import sys
from pathlib import Path


def strip_source(text: str) -> str:
    """Removes comments, string literals' contents and preprocessor lines."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def statements(text: str):
    """Yields (scope, access, statement, ends_with_brace) at namespace/class level, skipping
    function bodies and initialiser braces. scope is a list of (kind, name)."""
    scope, access, stmt, i = [], [], "", 0
    while i < len(text):
        c = text[i]
        if c == ";":
            yield list(scope), access[-1] if access else "public", stmt.strip(), False
            stmt = ""
        elif c == "{":
            head = stmt.strip()
            m = re.match(r"^(?:template\s*<[^>]*>\s*)?(namespace|class|struct)\s+([\w:]*)\s*(?::[^{]*)?$", head)
            if m and not head.startswith("enum"):
                kind, name = m.group(1), m.group(2)
                scope.append((kind, name))
                access.append("private" if kind == "class" else "public")
                stmt = ""
            elif re.match(r'^extern\s*""$', head):
                scope.append(("extern", ""))
                access.append("public")
                stmt = ""
            else:
                yield list(scope), access[-1] if access else "public", head, True
                depth, i = 1, i + 1
                while depth:
                    depth += {"{": 1, "}": -1}.get(text[i], 0)
                    i += 1
                if "(" in head:  # a function defined here: no ';' follows
                    stmt = ""
                continue
        elif c == "}":
            if scope:
                scope.pop()
                access.pop()
            stmt = ""
        else:
            stmt += c
            m = re.search(r"\b(public|private|protected)\s*:$", stmt)
            if m and not stmt.endswith("::") and access:
                access[-1] = m.group(1)
                stmt = ""
        i += 1


def c_functions(header: Path) -> set:
    names = set()
    for _, _, stmt, brace in statements(strip_source(header.read_text())):
        if brace or stmt.startswith(("static", "typedef")):
            continue
        m = re.search(r"\b(marllb_\w+)\s*\(", stmt)
        if m:
            names.add(m.group(1))
    return names


def cxx_functions(header: Path, wanted_access: str = "public") -> set:
    names = set()
    for scope, access, stmt, brace in statements(strip_source(header.read_text())):
        if brace or access != wanted_access or "(" not in stmt or stmt.startswith(("using", "template", "typedef", "friend")):
            continue
        if re.search(r"=\s*(default|delete)\s*$", stmt):
            continue
        decl = re.sub(r"\[\[[^\]]*\]\]", " ", stmt)
        m = re.search(r"(~?\w+|operator\s*\S+?)\s*\(", decl)
        if m:
            names.add("::".join([name for _, name in scope if name] + [m.group(1).replace(" ", "")]))
    return names


def main(argv) -> int:
    if len(argv) != 3 or not Path(argv[1]).is_file() or not (Path(argv[2]) / "marllb/shm.h").is_file():
        print("usage: check_exports.py LIBRARY INCLUDE_DIR (INCLUDE_DIR holds marllb/shm.h and marllb/shm.hpp)",
              file=sys.stderr)
        return 2
    lib, inc = Path(argv[1]), Path(argv[2]) / "marllb"
    want_c = c_functions(inc / "shm.h")
    want_cxx = cxx_functions(inc / "shm.hpp")
    private_cxx = cxx_functions(inc / "shm.hpp", "private")
    rows = subprocess.run(["nm", "-D", "--defined-only", "-C", str(lib)], check=True, capture_output=True,
                          text=True).stdout.splitlines()
    exported = []
    for row in rows:
        _, kind, name = row.split(" ", 2)
        exported.append((kind, re.sub(r"@@?\w+$", "", name)))

    leaked = []
    for kind, name in exported:
        if kind == "A" and re.fullmatch(r"MARLLB_SHM_\d+", name):
            continue
        if name in want_c:
            continue
        if any(name.startswith(p + "(") for p in private_cxx):
            leaked.append(name + "  [private]")
            continue
        if name.startswith("marllb::shm::") and (not name.startswith("marllb::shm::detail::")
                                                or name.startswith("marllb::shm::detail::Mapping::")):
            continue
        leaked.append(name)
    names = {name for _, name in exported}
    missing = sorted(n for n in want_c if n not in names)
    missing += sorted(n for n in want_cxx if not any(e.startswith(n + "(") for e in names))

    print(f"check_exports: {lib.name}: {len(exported)} symbols exported; the headers declare "
          f"{len(want_c)} C functions and {len(want_cxx)} out-of-line public C++ functions "
          f"({len(private_cxx)} private ones, not to be exported)")
    for name in leaked:
        print(f"  leaked (not in the public API): {name}")
    for name in missing:
        print(f"  missing (declared public, not exported): {name}")
    return 1 if leaked or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
