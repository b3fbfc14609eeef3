#!/usr/bin/env bash
# Builds and runs the C tests of the C API against the static library.
#
#   tests/c/run.sh [plain|valgrind|asan]...     (default: plain)
#
# plain:    cc -Wall -Wextra -Werror, run directly
# valgrind: the same binaries under valgrind --error-exitcode=1 --leak-check=full
# asan:     rebuilt with -fsanitize=address,undefined -fno-sanitize-recover=all
#
# Expects the library built first (.ci/ffi.sh does it):
#   cargo build --release -p shareexec-ffi
# SHAREEXEC_LIB_DIR overrides where libshareexec.a is (default: target/release).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
lib_dir="${SHAREEXEC_LIB_DIR:-$root/target/release}"
lib="$lib_dir/libshareexec.a"
out="$root/target/c-tests"
cc="${CC:-cc}"
[ -f "$lib" ] || { echo "run.sh: $lib not found; build it first (see the header of this script)" >&2; exit 1; }
mkdir -p "$out"

warn=(-std=c11 -Wall -Wextra -Werror -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -I"$root/include")
libs=(-lpthread -ldl -lm)
tests=()
for src in "$root"/tests/c/test_*.c; do tests+=("$(basename "$src" .c)"); done

build() { # build MODE NAME
  local mode=$1 name=$2 extra=()
  [ "$mode" = asan ] && extra=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  "$cc" "${warn[@]}" -g -O1 "${extra[@]}" "$root/tests/c/$name.c" "$lib" "${libs[@]}" -o "$out/$name.$mode"
}

modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(plain)
for mode in "${modes[@]}"; do
  case "$mode" in
    plain|asan) build_mode=$mode ;;
    valgrind) build_mode=plain ;;
    *) echo "run.sh: unknown mode $mode (plain, valgrind, asan)" >&2; exit 2 ;;
  esac
  for t in "${tests[@]}"; do
    echo "--- $t ($mode)"
    build "$build_mode" "$t"
    case "$mode" in
      plain) "$out/$t.plain" ;;
      valgrind) valgrind -q --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect,possible \
                  --errors-for-leak-kinds=definite,indirect,possible "$out/$t.plain" ;;
      asan) ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$out/$t.asan" ;;
    esac
  done
done
echo "C tests passed: ${tests[*]} (${modes[*]})"
