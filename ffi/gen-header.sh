#!/usr/bin/env bash
# Regenerates include/camwire.h with cbindgen 0.29.4 (a pinned dev-dependency, nothing to
# install). The test `cargo nextest run -p camwire-ffi -E 'test(header_is_fresh)'` fails
# when the checked-in header differs from what this writes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q -p camwire-ffi --example gen-header
