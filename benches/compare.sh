#!/usr/bin/env bash
# Compares `gloss show --all` with GNU objdump and llvm-objdump-19 on large binaries, on one core.
#
#   benches/compare.sh [--arch amd64|arm64|all] [--runs N] [--fuzz SECONDS] [--no-bench]
#
#   --arch      which benchmark binaries to run (default: all)
#   --runs N    run each tool N times and keep the fastest wall time (default: 1)
#   --fuzz S    afterwards, run each cargo-fuzz target for S seconds (needs cargo-fuzz; uses
#               RUSTC_BOOTSTRAP=1 on stable)
#   --no-bench  skip the benchmark (e.g. with --fuzz only)
#
# Binaries (fetched into bench-data/ when missing):
#   amd64: libLLVM.so.19.1 from the installed llvm-19, else `apt-get download libllvm19:amd64`
#   arm64: `apt-get download libllvm19:arm64` (adds the arm64 dpkg architecture if needed)
# Environment: JOBS (cargo build jobs, default 2), CPU (core to pin to, default 0),
# CARGO_TARGET_DIR (where cargo builds; default target/).
#
# gloss is measured as `show --all` as users run it (since the listing shows switches, that
# includes function discovery and jump-table recovery), `show --all --no-analysis` (the
# listing alone, what issue 2's throughput target was set for), `analyze --format text` (the
# complete analysis: functions, CFG, jump tables; issue 3's target), `analyze --format json`
# (also the idioms and the audit) and `analyze -j 0` on every core. Ratios are against objdump.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/bench-data"
JOBS="${JOBS:-2}"
CPU="${CPU:-0}"
ARCHES="amd64 arm64"
RUNS=1
FUZZ=0
BENCH=1

while [ $# -gt 0 ]; do
    case "$1" in
        --arch) shift; case "$1" in all) ARCHES="amd64 arm64" ;; *) ARCHES="$1" ;; esac ;;
        --runs) shift; RUNS="$1" ;;
        --fuzz) shift; FUZZ="$1" ;;
        --no-bench) BENCH=0 ;;
        -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_pkg() { # need_pkg COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "== installing $2 (for $1)" >&2
    $SUDO apt-get install -y "$2" >&2
}

# Extracts a package's libLLVM shared object into bench-data/NAME.
fetch_deb() { # fetch_deb PKG:ARCH OUTNAME
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && apt-get download "$1" >&2)
    dpkg-deb -x "$tmp"/*.deb "$tmp/x"
    local so
    so="$(find "$tmp/x" -type f -name 'libLLVM*.so*' | head -n1)"
    [ -n "$so" ] || { echo "no libLLVM in $1" >&2; exit 1; }
    cp "$so" "$DATA/$2"
    rm -rf "$tmp"
}

fetch_amd64() {
    local out="$DATA/libLLVM-19-amd64.so"
    [ -s "$out" ] && return 0
    local f
    for f in /usr/lib/x86_64-linux-gnu/libLLVM.so.19.1 /usr/lib/x86_64-linux-gnu/libLLVM-19.so.1 \
             /usr/lib/llvm-19/lib/libLLVM.so.19.1; do
        if [ -f "$f" ]; then cp -L "$f" "$out"; return 0; fi
    done
    fetch_deb libllvm19:amd64 libLLVM-19-amd64.so
}

fetch_arm64() {
    local out="$DATA/libLLVM-19-arm64.so"
    [ -s "$out" ] && return 0
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        $SUDO dpkg --add-architecture arm64
        $SUDO apt-get update >&2
    fi
    fetch_deb libllvm19:arm64 libLLVM-19-arm64.so
}

# Runs a command pinned to one core (to CORES when set); prints "WALL_SECONDS PEAK_RSS_KB"
# (fastest of RUNS).
measure() {
    local best="" out
    out="$(mktemp)"
    for _ in $(seq "$RUNS"); do
        taskset -c "${CORES:-$CPU}" /usr/bin/time -f "%e %M" -o "$out" "$@" >/dev/null 2>/dev/null || {
            echo "command failed: $*" >&2; cat "$out" >&2; exit 1; }
        local line
        line="$(tail -n1 "$out")"
        if [ -z "$best" ] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then
            best="$line"
        fi
    done
    rm -f "$out"
    echo "$best"
}

bench_one() { # bench_one ARCH BIN
    local arch="$1" bin="$2" objdump
    case "$arch" in
        amd64) objdump=objdump ;;
        arm64) objdump=aarch64-linux-gnu-objdump ;;
    esac
    local file_bytes code_bytes
    file_bytes="$(stat -c %s "$bin")"
    code_bytes="$("$GLOSS" info --format json "$bin" | grep -o '"code_bytes": *[0-9]*' | grep -o '[0-9]*$')"
    echo
    echo "## $arch: $(basename "$bin")"
    awk -v f="$file_bytes" -v c="$code_bytes" 'BEGIN{printf "file %.1f MB, code (executable sections) %.1f MB\n", f/1e6, c/1e6}'
    echo "pinned to core $CPU, best of $RUNS run(s), output to /dev/null"
    echo
    printf '| %-36s | %9s | %9s | %12s | %13s |\n' "command" "wall (s)" "MB/s code" "peak RSS MB" "RSS/file size"
    printf '|%s|%s|%s|%s|%s|\n' "--------------------------------------" "-----------" "-----------" "--------------" "---------------"
    local name cmd res wall rss
    declare -A WALL
    local cores=""
    for name in gloss gloss-listing analyze analyze-json analyze-all objdump llvm-objdump; do
        cores=""
        case "$name" in
            gloss) cmd=("$GLOSS" show --all "$bin") ;;
            gloss-listing) cmd=("$GLOSS" show --all --no-analysis "$bin") ;;
            analyze) cmd=("$GLOSS" analyze --format text "$bin") ;;
            analyze-json) cmd=("$GLOSS" analyze --format json "$bin") ;;
            analyze-all) cmd=("$GLOSS" analyze --format text -j 0 "$bin"); cores="0-$(($(nproc) - 1))" ;;
            objdump) cmd=("$objdump" -d "$bin") ;;
            llvm-objdump) cmd=(llvm-objdump-19 -d "$bin") ;;
        esac
        res="$(CORES="$cores" measure "${cmd[@]}")"
        wall="${res% *}"; rss="${res#* }"
        WALL[$name]="$wall"
        local shown="${cmd[*]}"
        shown="${shown/#$GLOSS/gloss}"
        shown="${shown/$bin/BIN}"
        awk -v n="$shown" -v w="$wall" -v r="$rss" -v c="$code_bytes" -v f="$file_bytes" \
            'BEGIN{ww=(w>0?w:0.01); printf "| %-36s | %9.2f | %9.1f | %12.1f | %13.2f |\n", n, w, c/1e6/ww, r/1024, r*1024/f}'
    done
    echo
    awk -v g="${WALL[gloss]}" -v n="${WALL[gloss-listing]}" -v a="${WALL[analyze]}" \
        -v j="${WALL[analyze-json]}" -v m="${WALL[analyze-all]}" -v cores="$(nproc)" \
        -v o="${WALL[objdump]}" -v l="${WALL[llvm-objdump]}" '
        function ratio(x, y) { return y > 0 ? x / y : 0 }
        BEGIN {
        printf "throughput ratio gloss show --all: /objdump = %.1fx, /llvm-objdump = %.1fx\n", ratio(o, g), ratio(l, g)
        printf "throughput ratio gloss show --all --no-analysis: /objdump = %.1fx, /llvm-objdump = %.1fx\n", ratio(o, n), ratio(l, n)
        printf "throughput ratio gloss analyze --format text (functions, CFG, tables): /objdump = %.1fx\n", ratio(o, a)
        printf "throughput ratio gloss analyze --format json (also idioms, audit, JSON): /objdump = %.1fx\n", ratio(o, j)
        printf "throughput ratio gloss analyze --format text -j 0 on %d cores: /objdump on one core = %.1fx\n", cores, ratio(o, m) }'
}

if [ "$BENCH" = 1 ]; then
    mkdir -p "$DATA"
    [ -x /usr/bin/time ] || need_pkg /usr/bin/time time
    need_pkg taskset util-linux
    need_pkg llvm-objdump-19 llvm-19
    need_pkg objdump binutils
    for a in $ARCHES; do
        case "$a" in
            amd64) fetch_amd64 ;;
            arm64) fetch_arm64; need_pkg aarch64-linux-gnu-objdump binutils-aarch64-linux-gnu ;;
            *) echo "unknown arch $a" >&2; exit 2 ;;
        esac
    done

    echo "== cargo build --release -p gloss-cli" >&2
    (cd "$ROOT" && cargo build --release -p gloss-cli -j"$JOBS" >&2)
    GLOSS="${CARGO_TARGET_DIR:-$ROOT/target}/release/gloss"
    case "$GLOSS" in /*) ;; *) GLOSS="$ROOT/$GLOSS" ;; esac

    echo "# gloss benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/^Mem/{print $2}') GB RAM"
    echo "gloss $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo "?"); $(objdump --version | head -n1); $(llvm-objdump-19 --version | grep -m1 'LLVM version' | sed 's/^ *//')"
    for a in $ARCHES; do
        bench_one "$a" "$DATA/libLLVM-19-$a.so"
    done
fi

if [ "$FUZZ" != 0 ]; then
    command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz -j"$JOBS"
    cd "$ROOT/fuzz"
    mkdir -p corpus/load corpus/audit
    cp -n "$ROOT"/fixtures/bin/* corpus/load/ 2>/dev/null || true
    cp -n "$ROOT"/fixtures/bin/* corpus/audit/ 2>/dev/null || true
    echo
    echo "# fuzzing, ${FUZZ}s per target"
    for t in load audit decode_x86_64 decode_aarch64; do
        log="$(mktemp)"
        if CARGO_BUILD_JOBS="$JOBS" RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" -- -max_total_time="$FUZZ" -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1; then
            echo "$t: ok, $(grep -E '^Done [0-9]+ runs' "$log" | tail -n1)"
        else
            echo "$t: FAILED (see fuzz/artifacts/$t/)"
            grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -n 10
        fi
        rm -f "$log"
    done
fi
