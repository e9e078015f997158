#!/usr/bin/env python3
"""Generates the tables of how many argument registers a system library function takes
(crates/gloss-analysis/data/prototypes/{elf,pe}.txt), from the C headers and the compiler's
own lowering of each declaration to its calling convention.

For every header of glibc (libc6-dev, and libc6-dev-arm64-cross for AArch64), of
scripts/prototypes-extra.h (start files, C++ ABI) and of mingw-w64 (Windows API and CRT), clang-19 lists the functions the header declares; a C file
that takes each one's address is then compiled to LLVM IR for each target, where each
`declare` line is the function's signature as the ABI passes it (a struct by value is
`byval` on the stack, split into registers, or a pointer; a returned struct is an `sret`
pointer). Counting the integer registers of that signature is exact for the ABI: no
heuristics about C types.

    python3 scripts/gen-prototypes.py      # needs clang-19, libc6-dev, libc6-dev-arm64-cross,
                                           # mingw-w64-x86-64-dev

Columns: name, then per target the number of integer argument registers the function reads
(`N`), `N+` for a variadic function with N fixed ones, or `-` where the signature cannot be
told as a count (an aggregate in registers, a 128-bit integer, a float between integer
arguments on Windows x64).
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates/gloss-analysis/data/prototypes")
CLANG = "clang-19"
RESOURCE = "/usr/lib/llvm-19/lib/clang/19/include"

GLIBC_SKIP = {
    # not C declarations of libc functions, or headers that only work after others
    "stab.h", "regexp.h", "termio.h", "sgtty.h", "re_comp.h", "thread_db.h", "proc_service.h",
    "gnu-versions.h", "features-time64.h", "stdc-predef.h", "elf.h", "link.h",
}


def run(args, src):
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
        f.write(src)
        path = f.name
    try:
        p = subprocess.run(args + [path], capture_output=True, text=True)
        return p.returncode, p.stdout
    finally:
        os.unlink(path)


DECL = re.compile(r"^[|`]-FunctionDecl 0x[0-9a-f]+ (?:prev 0x[0-9a-f]+ )?<.*?> \S+ (?:used |referenced )*([A-Za-z_][A-Za-z0-9_]*) '")


def declared(flags, prelude):
    """Names of the functions the translation unit declares without a body."""
    code, out = run([CLANG, "-fsyntax-only", "-Xclang", "-ast-dump", "-fno-color-diagnostics"] + flags, prelude)
    if code != 0:
        return None
    names = set()
    lines = out.splitlines()
    for i, line in enumerate(lines):
        m = DECL.match(line)
        if not m or " implicit " in line or line.rstrip().endswith(" static") or " inline" in line:
            continue
        # a body: a CompoundStmt child
        j = i + 1
        body = False
        while j < len(lines) and lines[j].startswith(("| ", "  ")):
            if lines[j].lstrip("| `-").startswith("CompoundStmt"):
                body = True
                break
            j += 1
        if not body:
            names.add(m.group(1))
    return names


def split_params(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


FLOATS = ("half", "bfloat", "float", "double", "x86_fp80", "fp128", "<")


def classify(p):
    """G (integer register), F (vector register), S (stack), R (sret pointer), V (...),
    Gn (n integer registers), or None (not countable)."""
    if p == "...":
        return "V"
    if p.startswith("{") or re.match(r"i(128|256)\b", p):
        return None
    m = re.match(r"\[(\d+) x (\w+)\]", p)
    if m:
        n, t = int(m.group(1)), m.group(2)
        if t.startswith("i"):
            return "G%d" % n if n <= 2 else None
        return "F" if t.startswith(FLOATS) else None
    if p.startswith("ptr"):
        if "byval(" in p:
            return "S"
        if "sret(" in p:
            return "R"
        return "G"
    if re.match(r"i\d+\b", p):
        return "G"
    if p.startswith(FLOATS):
        return "F"
    return None


def count(classes, abi):
    if classes is None or any(c is None for c in classes):
        return "-"
    variadic = "V" in classes
    fixed = [c for c in classes if c != "V"]
    if abi == "sysv":
        n = sum(int(c[1:] or 1) for c in fixed if c[0] == "G") + fixed.count("R")
        if fixed.count("S") and n > 6:
            return "-"
        n = min(n, 6)
    elif abi in ("aapcs64", "win-arm64"):
        if "S" in fixed:
            return "-"
        n = sum(int(c[1:] or 1) for c in fixed if c[0] == "G")
        if abi == "win-arm64" and variadic:
            # Windows ARM64 passes a variadic function's fixed floats in integer registers too
            n += fixed.count("F")
        n = min(n, 8)
    else:  # win-x64: one slot per argument, integer or vector register by position
        if "S" in fixed or any(c.startswith("G") and c != "G" for c in fixed):
            return "-"
        last = max((i for i, c in enumerate(fixed) if c in ("G", "R")), default=-1)
        if any(c == "F" for c in fixed[: last + 1]) and not variadic:
            return "-"
        n = min(last + 1, 4)
    return "%d%s" % (n, "+" if variadic else "")


DECLARE = re.compile(r"^declare (.*?)@(\"[^\"]+\"|[A-Za-z0-9_.$]+)\((.*)\)")


def lowered(flags, prelude, names):
    """Each name's parameter classes as the target lowers its declaration. Names whose address
    cannot be taken (builtins) are dropped and the file compiled again."""
    names = sorted(names)
    for _ in range(8):
        first = prelude.count("\n") + 3  # the line of the first reference
        refs = ",\n".join("(void *)&%s" % n for n in names)
        src = prelude + "\nvoid *const gloss_refs[] = {\n" + refs + "\n};\n"
        with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
            f.write(src)
            path = f.name
        p = subprocess.run([CLANG, "-S", "-emit-llvm", "-O0", "-o", "-", "-w"] + flags + [path],
                           capture_output=True, text=True)
        os.unlink(path)
        if p.returncode == 0:
            break
        bad = set()
        for m in re.finditer(re.escape(path) + r":(\d+):\d+: error", p.stderr):
            k = int(m.group(1)) - first
            if 0 <= k < len(names):
                bad.add(names[k])
        if not bad:
            return {}
        names = [n for n in names if n not in bad]
    else:
        return {}
    got = {}
    for line in p.stdout.splitlines():
        m = DECLARE.match(line)
        if not m or m.group(2).startswith("llvm."):
            continue
        got[m.group(2).strip('"')] = [classify(p) for p in split_params(m.group(3))]
    return got


def table(targets, preludes):
    """name -> {target: count} over the preludes (one translation unit each)."""
    rows = {}
    for prelude in preludes:
        per_target = {}
        for name, flags, abi in targets:
            names = declared(flags, prelude)
            if not names:
                continue
            for fn, classes in lowered(flags, prelude, names).items():
                per_target.setdefault(fn, {})[name] = count(classes, abi)
        for fn, counts in per_target.items():
            old = rows.setdefault(fn, {})
            for t, c in counts.items():
                if old.get(t, c) != c:
                    c = "-"  # declared two ways
                old[t] = c
    return rows


def write(path, header, targets, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for line in header:
            f.write("# " + line + "\n")
        f.write("# name " + " ".join(t[0] for t in targets) + "\n")
        kept = 0
        for fn in sorted(rows):
            cols = [rows[fn].get(t[0], "-") for t in targets]
            if all(c == "-" for c in cols):
                continue
            f.write(fn + " " + " ".join(cols) + "\n")
            kept += 1
    print(path, kept, "functions", file=sys.stderr)


def version(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
    return p.stdout or "?"


def clang_version():
    return subprocess.run([CLANG, "--version"], capture_output=True, text=True).stdout.splitlines()[0]


def glibc():
    files = subprocess.run(["dpkg", "-L", "libc6-dev"], capture_output=True, text=True).stdout.split()
    headers = []
    for f in files:
        if not f.endswith(".h") or not f.startswith("/usr/include/"):
            continue
        rel = f[len("/usr/include/"):]
        if rel.startswith(("x86_64-linux-gnu/bits/", "x86_64-linux-gnu/gnu/", "x86_64-linux-gnu/fpu_control", "finclude/")):
            continue
        rel = rel.replace("x86_64-linux-gnu/", "")
        if rel in GLIBC_SKIP:
            continue
        headers.append(rel)
    common = ["-D_GNU_SOURCE", "-O2", "-D_FORTIFY_SOURCE=2"]
    targets = [
        ("x86_64", ["--target=x86_64-linux-gnu"] + common, "sysv"),
        ("aarch64", ["--target=aarch64-linux-gnu", "-isystem", "/usr/aarch64-linux-gnu/include"] + common, "aapcs64"),
    ]
    preludes = ["#include <%s>\n" % h for h in sorted(set(headers))]
    preludes.append('#include "%s"\n' % os.path.join(ROOT, "scripts/prototypes-extra.h"))
    rows = table(targets, preludes)
    header = [
        "How many integer argument registers each glibc function reads, by target (System V",
        "x86-64, AAPCS64): N, N+ when variadic after N fixed, - when not a count.",
        "Generated by scripts/gen-prototypes.py from libc6-dev %s, libc6-dev-arm64-cross %s"
        % (version("libc6-dev"), version("libc6-dev-arm64-cross")),
        "and scripts/prototypes-extra.h",
        "with %s. Do not edit." % clang_version(),
    ]
    write(os.path.join(OUT, "elf.txt"), header, targets, rows)


def windows():
    inc = "/usr/x86_64-w64-mingw32/include"
    headers = [
        "windows.h", "winsock2.h", "ws2tcpip.h", "shellapi.h", "shlobj.h", "shlwapi.h", "commctrl.h",
        "commdlg.h", "wincrypt.h", "bcrypt.h", "ncrypt.h", "winhttp.h", "psapi.h", "dbghelp.h",
        "tlhelp32.h", "iphlpapi.h", "setupapi.h", "objbase.h", "oleauto.h", "winternl.h",
        "winsvc.h", "winreg.h", "userenv.h", "wtsapi32.h", "dwmapi.h", "uxtheme.h", "mmsystem.h",
        "lm.h", "sddl.h", "aclapi.h", "wintrust.h", "softpub.h", "imagehlp.h", "winver.h",
        "stdio.h", "stdlib.h", "string.h", "wchar.h", "math.h", "time.h", "process.h", "io.h",
        "fcntl.h", "signal.h", "locale.h", "ctype.h", "conio.h", "direct.h", "errno.h",
        "setjmp.h", "malloc.h", "stdarg.h", "search.h", "sys/stat.h", "sys/timeb.h",
    ]
    common = ["-nostdinc", "-isystem", RESOURCE, "-isystem", inc, "-O2"]
    targets = [
        ("x64", ["--target=x86_64-w64-mingw32"] + common, "win-x64"),
        ("arm64", ["--target=aarch64-w64-mingw32"] + common, "win-arm64"),
    ]
    prelude = "#include <winsock2.h>\n#include <windows.h>\n"
    preludes = [prelude + "#include <%s>\n" % h for h in headers]
    rows = table(targets, preludes)
    header = [
        "How many integer argument registers each Windows API and C runtime function reads, by",
        "target (Windows x64, Windows ARM64): N, N+ when variadic after N fixed, - when not a count.",
        "Generated by scripts/gen-prototypes.py from mingw-w64-x86-64-dev %s"
        % version("mingw-w64-x86-64-dev"),
        "with %s. Do not edit." % clang_version(),
    ]
    write(os.path.join(OUT, "pe.txt"), header, targets, rows)


if __name__ == "__main__":
    glibc()
    windows()
