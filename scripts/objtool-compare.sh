#!/usr/bin/env bash
# Runs the Linux kernel's objtool (Debian's linux-kbuild-6.1) and `gloss audit` on the same
# x86-64 objects and prints where they disagree (docs/ACCURACY.md explains each difference).
#
#   bash scripts/objtool-compare.sh [GLOSS]      (GLOSS: a built gloss binary; default: cargo run)
#
# The objects are fixtures/src/branches.c and fixtures/src/switches.c built by gcc -O2 as the
# kernel builds code (-fno-pic, no unwind tables: objtool reads non-PIC jump tables only),
# once plain and once per mitigation. Both tools check the same three things:
#   objtool --retpoline  "indirect call/jump found in RETPOLINE build"  <-> retpoline-missing
#   objtool --rethunk    "'naked' return found in RETHUNK build"        <-> rethunk-missing
#   objtool --sls        "missing int3 after ret/indirect jump"         <-> sls-missing-barrier
# Needs: gcc, dpkg-deb, apt-get (to download linux-kbuild-6.1 once) and libelf1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${WORK:-/tmp/gloss-objtool}
mkdir -p "$WORK"
OBJTOOL=$WORK/kbuild/usr/lib/linux-kbuild-6.1/tools/objtool/objtool
if [ ! -x "$OBJTOOL" ]; then
  (cd "$WORK" && apt-get download linux-kbuild-6.1 >/dev/null && dpkg-deb -x linux-kbuild-6.1_*.deb kbuild)
fi
if [ $# -ge 1 ]; then
  GLOSS=("$1")
else
  cargo build --release -q -p gloss-cli
  GLOSS=("${CARGO_TARGET_DIR:-$ROOT/target}/release/gloss")
fi
declare -A FLAGS=(
  [plain]=""
  [thunk-extern]="-mindirect-branch=thunk-extern"
  [return-thunk]="-mfunction-return=thunk-extern"
  [sls]="-mharden-sls=all"
  [all]="-mindirect-branch=thunk-extern -mfunction-return=thunk-extern -mharden-sls=all"
)
total_o=0; total_g=0; total_both=0
for src in branches switches; do
  for v in plain thunk-extern return-thunk sls all; do
    obj=$WORK/$src-$v.o
    # shellcheck disable=SC2086
    gcc -O2 -fno-pic -fno-asynchronous-unwind-tables -fno-unwind-tables ${FLAGS[$v]} \
      -c "fixtures/src/$src.c" -o "$obj"
    cp "$obj" "$WORK/objtool-input.o"   # objtool annotates what it reads; --dry-run keeps it
    "$OBJTOOL" --retpoline --rethunk --sls --dry-run "$WORK/objtool-input.o" 2>&1 |
      sed -n 's/.*objtool: \([^:]*\): \(.*\)/\1 \2/p' |
      sed -e 's/ indirect \(call\|jump\) found in RETPOLINE build/ retpoline/' \
          -e "s/ 'naked' return found in RETHUNK build/ rethunk/" \
          -e 's/ missing int3 after \(ret\|indirect jump\)/ sls/' |
      grep -E ' (retpoline|rethunk|sls)$' | sort -u > "$WORK/o.txt" || true
    "${GLOSS[@]}" audit "$obj" --require retpoline,rethunk,sls --fail-on none |
      sed -n 's/^  error *\([a-z-]*\) 0x[0-9a-f]* <\([^>]*\)>.*/\2 \1/p' |
      sed -e 's/ retpoline-missing$/ retpoline/' -e 's/ rethunk-missing$/ rethunk/' \
          -e 's/ sls-missing-barrier$/ sls/' | sort -u > "$WORK/g.txt"
    o=$(wc -l < "$WORK/o.txt"); g=$(wc -l < "$WORK/g.txt")
    both=$(comm -12 "$WORK/o.txt" "$WORK/g.txt" | wc -l)
    total_o=$((total_o + o)); total_g=$((total_g + g)); total_both=$((total_both + both))
    printf '%-24s objtool %4d  gloss %4d  both %4d\n' "$src-$v" "$o" "$g" "$both"
    comm -23 "$WORK/o.txt" "$WORK/g.txt" | sed 's/^/    objtool only: /'
    comm -13 "$WORK/o.txt" "$WORK/g.txt" | sed 's/^/    gloss only:   /'
  done
done
printf 'total: objtool %d, gloss %d, both %d\n' "$total_o" "$total_g" "$total_both"
