#!/usr/bin/env bash
# Fetches a few real Debian binaries for the differential test (crates/gloss/tests/differential.rs,
# docs/differential.md): the coreutils and libc6 packages for amd64 and arm64 (about 11 MB of
# .debs), unpacked with dpkg-deb into
#   target/real-binaries/{amd64,arm64}/...   e.g. amd64/bin/ls, arm64/lib/aarch64-linux-gnu/libc.so.6
# Idempotent: does nothing when the same package list was already unpacked. On a fresh Debian
# bookworm machine it needs root (dpkg --add-architecture, apt-get update) or sudo.
# Override the package list with GLOSS_REAL_PACKAGES="coreutils" (names without :arch).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/target/real-binaries"
packages="${GLOSS_REAL_PACKAGES:-coreutils libc6}"
arches="amd64 arm64"

stamp="$dest/.fetched"
want="packages=$packages arches=$arches"
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

to_get=()
for a in $arches; do
    for p in $packages; do
        ls "$debs/${p}_"*"_$a.deb" >/dev/null 2>&1 || to_get+=("$p:$a")
    done
done

if ((${#to_get[@]})); then
    if ((need_update)) || ! download "${to_get[@]}" 2>/dev/null; then
        "${sudo[@]}" apt-get update -qq
        download "${to_get[@]}"
    fi
fi

for a in $arches; do
    rm -rf "$dest/$a"
    mkdir -p "$dest/$a"
    for p in $packages; do
        dpkg-deb -x "$(ls "$debs/${p}_"*"_$a.deb" | head -n1)" "$dest/$a"
    done
done

echo "$want" >"$stamp"
echo "fetch-real-binaries: unpacked $packages for $arches into $dest"
