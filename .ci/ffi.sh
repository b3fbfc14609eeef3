#!/usr/bin/env bash
# The C ABI check: the header is current, the static and shared libraries build, the C
# tests pass (cc -Wall -Wextra -Werror) plainly, under valgrind, and with
# AddressSanitizer + UndefinedBehaviorSanitizer, and the C and Python examples find the
# PsExec true positive. Needs cc (gcc), valgrind and python3; installs nothing. Any
# failure fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "ffi.sh: $1 is required but not installed" >&2; exit 1; }; }
need cc
need valgrind
need python3
need nm

step "header is up to date: cargo test --test ffi_header"
cargo test --test ffi_header

step "ffi unit tests: cargo test --lib --no-default-features --features ffi ffi::"
cargo test --lib --no-default-features --features ffi ffi::

step "build: cargo build --release -p shareexec-ffi"
cargo build --release -p shareexec-ffi
ls -l target/release/libshareexec.a target/release/libshareexec.so

step "exported symbols"
missing=0
for fn in $(grep -oE '\bshareexec_[a-z_]+\(' include/shareexec.h | tr -d '(' | sort -u); do
  if ! nm -D --defined-only target/release/libshareexec.so | grep -qw "$fn"; then
    echo "not exported by libshareexec.so: $fn" >&2
    missing=1
  fi
done
[ "$missing" = 0 ]

step "C tests: plain, valgrind, ASan+UBSan"
tests/c/run.sh plain valgrind asan

step "C example (examples/c/detect.c)"
mkdir -p target/c-tests
cc -std=c11 -Wall -Wextra -Werror -Iinclude examples/c/detect.c target/release/libshareexec.a \
  -lpthread -ldl -lm -o target/c-tests/detect
out="$(target/c-tests/detect < tests/fixtures/tp/psexec-defend.ndjson)"
echo "$out"
grep -q '"verdict":"alert"' <<<"$out" || { echo "ffi.sh: the C example found no alert" >&2; exit 1; }

step "docs/ffi.md's dozen-line program"
awk '/^```c$/{on=1; next} /^```$/{if (on) exit} on' docs/ffi.md > target/c-tests/dozen.c
[ -s target/c-tests/dozen.c ] || { echo "ffi.sh: no C block in docs/ffi.md" >&2; exit 1; }
cc -std=c11 -Wall -Wextra -Werror -Iinclude target/c-tests/dozen.c target/release/libshareexec.a \
  -lpthread -ldl -lm -o target/c-tests/dozen
target/c-tests/dozen < tests/fixtures/tp/psexec-defend.ndjson | grep -q '"verdict":"alert"' \
  || { echo "ffi.sh: the docs/ffi.md program found no alert" >&2; exit 1; }
echo ok

step "Python example (examples/python/detect.py)"
python3 examples/python/detect.py tests/fixtures/tp/psexec-defend.ndjson --lib target/release/libshareexec.so

step "ffi checks passed"
