#!/usr/bin/env bash
# Fetches a few real Debian binaries for the differential test (crates/gloss/tests/differential.rs,
# docs/differential.md): the coreutils and libc6 packages for amd64 and arm64 (about 11 MB of
# .debs), unpacked with dpkg-deb into
#   target/real-binaries/{amd64,arm64}/...   e.g. amd64/bin/ls, arm64/lib/aarch64-linux-gnu/libc.so.6
# and, for the function-start test (crates/gloss/tests/function_starts.rs, docs/function-starts.md),
# libc6-dbg of the same version (about 13 MB of .debs), of which only libc.so.6's debug file is
# kept, under the path gdb looks for it by build-id:
#   target/real-binaries/dbg/{amd64,arm64}/usr/lib/debug/.build-id/xx/yyyy.debug
# (outside {amd64,arm64}/ so that the differential test never takes it for code).
# Idempotent: does nothing when the same package list was already unpacked. On a fresh Debian
# bookworm machine it needs root (dpkg --add-architecture, apt-get update) or sudo.
# Override the package list with GLOSS_REAL_PACKAGES="coreutils" (names without :arch);
# GLOSS_REAL_DBG=0 skips libc6-dbg (it needs libc6 in the list).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/target/real-binaries"
packages="${GLOSS_REAL_PACKAGES:-coreutils libc6}"
arches="amd64 arm64"
dbg="${GLOSS_REAL_DBG:-1}"
[[ " $packages " == *" libc6 "* ]] || dbg=0

stamp="$dest/.fetched"
want="packages=$packages arches=$arches"
((dbg)) && want="$want dbg=libc6-dbg"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "fetch-real-binaries: already fetched in $dest ($want)"
    exit 0
fi

for tool in apt-get dpkg dpkg-deb; do
    command -v "$tool" >/dev/null || { echo "fetch-real-binaries: needs $tool (Debian)" >&2; exit 1; }
done

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "fetch-real-binaries: run as root (or install sudo)" >&2; exit 1; }
    sudo=(sudo)
fi

# Foreign architectures are only needed so that apt knows the arm64 (or amd64) package lists.
native="$(dpkg --print-architecture)"
need_update=0
for a in $arches; do
    if [[ "$a" != "$native" ]] && ! dpkg --print-foreign-architectures | grep -qx "$a"; then
        "${sudo[@]}" dpkg --add-architecture "$a"
        need_update=1
    fi
done

debs="$dest/debs"
mkdir -p "$debs"

download() {
    # As root, apt's download sandbox user (_apt) cannot write into target/; download as root.
    if [[ $(id -u) -eq 0 ]]; then
        (cd "$debs" && apt-get -o APT::Sandbox::User=root download "$@")
    else
        (cd "$debs" && apt-get download "$@")
    fi
}

get() {
    if ((${#to_get[@]})); then
        if ((need_update)) || ! download "${to_get[@]}" 2>/dev/null; then
            "${sudo[@]}" apt-get update -qq
            need_update=0
            download "${to_get[@]}"
        fi
    fi
}

to_get=()
for a in $arches; do
    for p in $packages; do
        ls "$debs/${p}_"*"_$a.deb" >/dev/null 2>&1 || to_get+=("$p:$a")
    done
done
get

# libc6-dbg must be the very build of libc6 that was fetched: ask for the same version.
if ((dbg)); then
    to_get=()
    for a in $arches; do
        deb="$(ls "$debs/libc6_"*"_$a.deb" | head -n1)"
        ver="$(dpkg-deb -f "$deb" Version)"
        ls "$debs/libc6-dbg_${ver//:/%3a}_$a.deb" >/dev/null 2>&1 || to_get+=("libc6-dbg:$a=$ver")
    done
    get
fi

# The GNU build-id of an ELF file, in hex, read from its first pages (the note lies there: a
# 16-byte header namesz=4 descsz=20 type=NT_GNU_BUILD_ID(3) "GNU\0", then the 20-byte id).
build_id() {
    head -c 8192 "$1" | od -An -v -tx1 | tr -s ' \n' ' ' |
        grep -o '04 00 00 00 14 00 00 00 03 00 00 00 47 4e 55 00\( [0-9a-f][0-9a-f]\)\{20\}' |
        head -n1 | cut -d' ' -f17- | tr -d ' '
}

for a in $arches; do
    rm -rf "$dest/$a"
    mkdir -p "$dest/$a"
    for p in $packages; do
        dpkg-deb -x "$(ls "$debs/${p}_"*"_$a.deb" | head -n1)" "$dest/$a"
    done
done

if ((dbg)); then
    rm -rf "$dest/dbg"
    for a in $arches; do
        libc="$(ls "$dest/$a"/lib/*-linux-gnu/libc.so.6 | head -n1)"
        id="$(build_id "$libc")"
        [[ ${#id} -eq 40 ]] || { echo "fetch-real-binaries: no build-id in $libc" >&2; exit 1; }
        rel="usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
        tmp="$(mktemp -d)"
        ver="$(dpkg-deb -f "$(ls "$debs/libc6_"*"_$a.deb" | head -n1)" Version)"
        dpkg-deb -x "$debs/libc6-dbg_${ver//:/%3a}_$a.deb" "$tmp"
        [[ -f "$tmp/$rel" ]] || { echo "fetch-real-binaries: libc6-dbg:$a has no $rel" >&2; rm -rf "$tmp"; exit 1; }
        mkdir -p "$dest/dbg/$a/$(dirname "$rel")"
        mv "$tmp/$rel" "$dest/dbg/$a/$rel"
        rm -rf "$tmp"
    done
fi

echo "$want" >"$stamp"
echo "fetch-real-binaries: unpacked $packages for $arches into $dest"
((dbg)) && echo "fetch-real-binaries: libc.so.6 debug files in $dest/dbg"
