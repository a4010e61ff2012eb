#!/usr/bin/env bash
# Builds the release abi3 wheel once (`maturin build --release`, maturin from PyPI, the system
# Rust), installs that wheel in a fresh venv, checks the stubs (mypy --strict on the examples
# and tests, stubtest on the native module), runs the pytest suite, and then the wheel smoke
# test (tests/wheel_smoke.sh: the same wheel in another fresh venv with no cargo/rustc on
# PATH runs examples/python/extract_clip.py --sim).
#
#   bash python/run_tests.sh              # from anywhere
#   PYTHON=python3.12 bash python/run_tests.sh
#   CAMWIRE_VENV=/tmp/v bash python/run_tests.sh -k stream   # extra args go to pytest
#   CAMWIRE_SKIP_WHEEL_SMOKE=1 bash python/run_tests.sh      # skip the no-Rust install check
#
# Needs CPython >= 3.11 and cargo on PATH. The venv lives in target/ (reused between runs;
# the package is reinstalled every time). The slow offline sdist check is separate:
# python/tests/sdist_offline.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
py="${PYTHON:-python3}"
venv="${CAMWIRE_VENV:-$repo/target/python-venv}"
wheels="$repo/target/python-wheels"

"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "run_tests.sh: $("$py" --version 2>&1) is too old; camwire needs CPython >= 3.11" >&2
  exit 1
}
if [[ ! -x "$venv/bin/python" ]]; then
  "$py" -m venv "$venv"
fi
vpy="$venv/bin/python"
pipq=("$vpy" -m pip install -q --disable-pip-version-check)
"${pipq[@]}" --upgrade pip 'maturin>=1.9,<2'

echo "==> maturin build --release (abi3 wheel, into target/python-wheels)"
rm -rf "$wheels"
# The Rust build goes to the workspace's target/ like every other crate.
(cd "$here" && "$venv/bin/maturin" build --release --quiet --out "$wheels")
shopt -s nullglob
built=("$wheels"/camwire-*.whl)
shopt -u nullglob
if [[ ${#built[@]} -ne 1 ]]; then
  echo "run_tests.sh: expected one wheel in $wheels, found ${#built[@]}" >&2
  exit 1
fi
wheel="${built[0]}"
echo "    $(basename "$wheel")"
"${pipq[@]}" --force-reinstall --no-deps "$wheel"
"${pipq[@]}" "$wheel[test]"

echo "==> mypy --strict (examples/python, python/tests) and stubtest"
(cd "$repo" && "$vpy" -m mypy --strict examples/python python/tests)
"$vpy" -m mypy.stubtest camwire._camwire --allowlist "$here/stubtest-allowlist.txt"

echo "==> pytest"
# The pytest script (not `python -m`) keeps the source folder off sys.path: the tests import
# the installed package.
(cd "$here" && "$venv/bin/pytest" -q -p no:cacheprovider "$@" tests)

if [[ -z "${CAMWIRE_SKIP_WHEEL_SMOKE:-}" ]]; then
  echo "==> wheel smoke test (fresh venv, no Rust toolchain on PATH)"
  PYTHON="$vpy" bash "$here/tests/wheel_smoke.sh" "$wheel"
fi
