#!/usr/bin/env bash
# Builds and installs the Python module the way a user does (`pip install ./python`, a
# release abi3 wheel built by maturin from PyPI with the system Rust), in a fresh venv, then
# checks the stubs (mypy --strict on the examples and tests, stubtest on the native module)
# and runs the pytest suite.
#
#   bash python/run_tests.sh              # from anywhere
#   PYTHON=python3.12 bash python/run_tests.sh
#   CAMWIRE_VENV=/tmp/v bash python/run_tests.sh -k stream   # extra args go to pytest
#
# Needs CPython >= 3.11 and cargo on PATH. The venv lives in target/ (reused between runs;
# the package is reinstalled every time).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
py="${PYTHON:-python3}"
venv="${CAMWIRE_VENV:-$repo/target/python-venv}"

"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "run_tests.sh: $("$py" --version 2>&1) is too old; camwire needs CPython >= 3.11" >&2
  exit 1
}
if [[ ! -x "$venv/bin/python" ]]; then
  "$py" -m venv "$venv"
fi
vpy="$venv/bin/python"
"$vpy" -m pip install -q --disable-pip-version-check --upgrade pip
# The wheel is built into the workspace's target/ like every other crate.
"$vpy" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$here"
"$vpy" -m pip install -q --disable-pip-version-check "$here[test]"

echo "==> mypy --strict (examples/python, python/tests) and stubtest"
(cd "$repo" && "$vpy" -m mypy --strict examples/python python/tests)
"$vpy" -m mypy.stubtest camwire._camwire --allowlist "$here/stubtest-allowlist.txt"

echo "==> pytest"
# The pytest script (not `python -m`) keeps the source folder off sys.path: the tests import
# the installed package.
cd "$here"
"$venv/bin/pytest" -q -p no:cacheprovider "$@" tests
