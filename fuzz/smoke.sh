#!/usr/bin/env bash
# Fuzz smoke runs: every cargo-fuzz target for SECONDS each (default 30), under
# AddressSanitizer, failing if any target finds a crash (a panic is a crash: the
# targets check their invariants with assertions) or a hang.
#
#   fuzz/smoke.sh [SECONDS]
#
# Runnable from anywhere (.ci/run calls it from the repository root). Installs
# cargo-fuzz when it is missing. Corpora grow in fuzz/corpus/<target> (ignored by
# git); fuzz/seeds/<target>, when present, is read as extra seed inputs. A crash
# leaves its input in fuzz/artifacts/<target>/; replay it with
#   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run <target> artifacts/<target>/<file>
set -euo pipefail

seconds="${1:-30}"
case "$seconds" in
  '' | *[!0-9]*)
    echo "usage: $0 [SECONDS]" >&2
    exit 2
    ;;
esac

cd "$(dirname "$0")"

# cargo-fuzz needs nightly flags (-Zsanitizer) on the stable toolchain. Set them for
# the whole run, and do not let cargo reuse rustc facts cached by an earlier run
# without them (fuzz/target/.rustc_info.json).
export RUSTC_BOOTSTRAP=1
export CARGO_CACHE_RUSTC_INFO=0

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

mapfile -t targets < <(cargo fuzz list)
if [ "${#targets[@]}" -eq 0 ]; then
  echo "no fuzz targets found" >&2
  exit 1
fi

echo "==> building ${targets[*]}"
cargo fuzz build

failed=()
for target in "${targets[@]}"; do
  corpora=("corpus/$target")
  mkdir -p "corpus/$target"
  if [ -d "seeds/$target" ]; then
    corpora+=("seeds/$target")
  fi
  echo "==> fuzzing $target for ${seconds}s"
  # -timeout: an input that runs for 10 s is a hang, reported as a crash.
  if ! cargo fuzz run "$target" "${corpora[@]}" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1; then
    echo "!!! $target failed: see fuzz/artifacts/$target/" >&2
    failed+=("$target")
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzz smoke failed: ${failed[*]}" >&2
  exit 1
fi
echo "==> fuzz smoke passed: ${targets[*]} (${seconds}s each)"
