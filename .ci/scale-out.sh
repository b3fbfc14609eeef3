#!/usr/bin/env bash
# The scale-out check (docs/scale-out.md): the shareexec-timely workspace member builds
# without warnings, and its cluster tests pass — real multi-process timely clusters on
# localhost (free ports picked at run time) over the committed 20 000-event corpus split
# round-robin: exactly one detector's alerts, and checkpoint / resume / rescale runs
# whose alerts together are exactly the uninterrupted run's. About a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo clippy -p shareexec-timely --all-targets -- -D warnings"
cargo clippy -p shareexec-timely --all-targets -- -D warnings

step "cluster tests: cargo test -p shareexec-timely"
# Each test bounds its own clusters (they are killed after a few minutes); this bounds
# the whole step too, so that nothing can hold CI forever.
timeout 30m cargo test -p shareexec-timely

step "docs: cargo doc --no-deps -p shareexec-timely"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p shareexec-timely
