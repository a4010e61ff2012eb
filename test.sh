#!/usr/bin/env bash
# The whole test suite: the Rust workspace (core, CLI against GStreamer/ffmpeg/the sim, the C
# ABI under ASan/UBSan and valgrind) with nextest, then the Python module built and installed
# as a user would (pip install ./python in a venv) with mypy --strict, stubtest and pytest.
# System packages it needs are installed by .ci/run.
set -euo pipefail
cd "$(dirname "$0")"
rust=0
# The C tests link libcamwire.a/.so, which a test build alone does not produce.
cargo build -p camwire-ffi --lib --all-features
cargo nextest run --workspace --all-features --no-fail-fast || rust=$?
# nextest does not run doctests: the crate root's quick start and the module examples.
cargo test --doc -p camwire --all-features || rust=$?
py=0
bash python/run_tests.sh || py=$?
if ((rust || py)); then
  echo "test.sh: rust suite exit $rust, python suite exit $py" >&2
  exit 1
fi
