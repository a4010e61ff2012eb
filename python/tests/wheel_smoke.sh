#!/usr/bin/env bash
# The wheel installs and runs where there is no Rust: a fresh venv, an environment emptied
# with `env -i` and PATH=/usr/bin:/bin (no cargo, no rustc, no CARGO_HOME/RUSTUP_HOME), the
# wheel installed with --no-index (nothing is built or fetched), then
# examples/python/extract_clip.py --sim run from an empty folder: the simulated camera is
# recorded for a few seconds, a clip exported and verified.
#
#   bash python/tests/wheel_smoke.sh target/python-wheels/camwire-*.whl
#   PYTHON=/usr/bin/python3.12 bash python/tests/wheel_smoke.sh WHEEL
#
# run_tests.sh runs it on the wheel it just built. Takes ~10 s (a venv, one install, 4 s of
# recording).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
wheel="$(realpath "${1:?usage: wheel_smoke.sh WHEEL}")"
# The interpreter the venv is made from, by absolute path (PATH will not find a pyenv shim).
base="$("${PYTHON:-python3}" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')"
clean=(env -i PATH=/usr/bin:/bin LANG=C.UTF-8)

fail() { echo "wheel_smoke: $*" >&2; exit 1; }

name="$(basename "$wheel")"
# abi3 (one wheel for CPython >= 3.11) and a manylinux platform tag, not plain linux_x86_64.
[[ "$name" =~ ^camwire-[^-]+-cp311-abi3-(manylinux|musllinux)[^-]*\.whl$ ]] ||
  fail "$name is not an abi3 manylinux wheel"

if "${clean[@]}" sh -c 'command -v cargo || command -v rustc' >/dev/null; then
  fail "cargo or rustc is in /usr/bin or /bin; this check needs a PATH without them"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"${clean[@]}" "$base" -m venv "$work/venv"
"${clean[@]}" "$work/venv/bin/python" -m pip install -q --disable-pip-version-check \
  --no-index --no-deps "$wheel"

mkdir "$work/run"
cd "$work/run"
# Imported from the venv, not from the source tree; a real shared object with no Rust needed.
"${clean[@]}" "$work/venv/bin/python" -c '
import sys, camwire, camwire._camwire as n
assert n.__file__.startswith(sys.prefix), (n.__file__, sys.prefix)
print("imported camwire", camwire.__version__, "from", n.__file__)
'
out="$("${clean[@]}" "$work/venv/bin/python" "$repo/examples/python/extract_clip.py" --sim 2>&1)" ||
  fail "extract_clip.py --sim failed:
$out"
echo "$out" | sed 's/^/    /'
grep -q '^verify   ok$' <<<"$out" || fail "no 'verify   ok' in the example's output"
frames="$(sed -n 's/^covers .*, \([0-9]*\) frames$/\1/p' <<<"$out")"
# 4 s recorded, a second trimmed from each end: 2-3 s at 25 fps (the clip starts at the
# keyframe at or before its start).
[[ -n "$frames" && "$frames" -ge 40 && "$frames" -le 80 ]] || fail "expected 50-75 frames, got '$frames'"
echo "wheel_smoke: ok ($name, $frames frames, no Rust on PATH)"
