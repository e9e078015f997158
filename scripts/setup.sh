#!/usr/bin/env bash
# Installs what building and testing gloss needs on a fresh Debian 12 machine (idempotent).
# - libclang-19-dev: bad64 (the AArch64 decoder) runs bindgen at build time.
# - llvm-19: llvm-objdump-19 is the reference of the differential test.
# - binutils: GNU objdump, the speed baseline.
# - python3-jsonschema: the test that validates `gloss audit --format sarif` against the
#   OASIS SARIF schema.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v llvm-objdump-19 >/dev/null || need+=(llvm-19)
[ -e /usr/lib/llvm-19/lib/libclang.so ] || need+=(libclang-19-dev clang-19)
command -v objdump >/dev/null || need+=(binutils)
command -v cc >/dev/null || need+=(gcc)
python3 -c 'import jsonschema' 2>/dev/null || /usr/bin/python3 -c 'import jsonschema' 2>/dev/null \
  || need+=(python3 python3-jsonschema)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: need root to install: ${need[*]}" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# Real Debian binaries for the differential test (downloaded once into target/real-binaries).
if [ -f scripts/fetch-real-binaries.sh ]; then
  bash scripts/fetch-real-binaries.sh
fi
