#!/usr/bin/env bash
# The sdist is complete and builds offline: `maturin sdist`, then, from that tarball alone,
#  1. `cargo metadata --offline` in the unpacked sdist resolves the `camwire` core crate to
#     the copy inside the sdist (not to this checkout's core/), every package at the version
#     the shipped Cargo.lock pins, and
#  2. `pip wheel --no-index --no-build-isolation` builds it with no network at all (inside
#     `unshare -n`, a network namespace with only a downed loopback, when unshare is allowed;
#     else with CARGO_NET_OFFLINE=true) from the crates already in the cargo registry cache,
#  3. the wheel it gives installs in a fresh venv and imports.
#
#   bash python/tests/sdist_offline.sh
#   CAMWIRE_SDIST_TARGET=target/sdist-offline bash python/tests/sdist_offline.sh   # reuse a target dir
#
# Slow: a full release build of the core and its dependencies in a fresh target dir (6.5 min
# in all, 6 min of it the build, on the shared 2-core dev machine), so it is not part of
# run_tests.sh. Needs maturin,
# cargo and a populated registry cache (any earlier build of the workspace fills it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="$(dirname "$here")"
py="${PYTHON:-python3}"

fail() { echo "sdist_offline: $*" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$py" -m venv "$work/venv"
# maturin comes from the index now, while the network is still allowed; the build below is
# --no-build-isolation so it uses this one and fetches nothing.
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check 'maturin>=1.9,<2'

echo "==> maturin sdist"
(cd "$python" && "$work/venv/bin/maturin" sdist --out "$work/sdist" 2>&1 | grep -v '^warning\|^  |\|^  =' || true)
sdist="$(echo "$work"/sdist/camwire-*.tar.gz)"
[[ -f "$sdist" ]] || fail "no sdist was written"
echo "    $(basename "$sdist") ($(du -h "$sdist" | cut -f1))"

echo "==> the core crate is inside the sdist"
mkdir "$work/unpacked"
tar -xzf "$sdist" -C "$work/unpacked"
src="$(echo "$work"/unpacked/camwire-*)"
[[ -f "$src/core/Cargo.toml" && -f "$src/core/src/lib.rs" ]] || fail "core/ is not in the sdist"
[[ -f "$src/Cargo.lock" ]] || fail "Cargo.lock is not in the sdist"
# The sdist's Cargo.lock is the workspace's, which also pins the crates of members the sdist
# does not carry (ffi, the CLI, fuzz, benches): cargo prunes those entries, offline. Nothing
# may be re-resolved: every package left in the lock must be pinned as it was.
cp "$src/Cargo.lock" "$work/Cargo.lock.orig"
core_manifest="$(cd "$src" && cargo metadata --offline --format-version 1 --manifest-path python/Cargo.toml |
  "$py" -c 'import json, sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "camwire" and p["source"] is None))')"
[[ "$core_manifest" == "$src/core/Cargo.toml" ]] || fail "camwire resolves to $core_manifest, not the sdist's copy"
"$py" - "$work/Cargo.lock.orig" "$src/Cargo.lock" <<'PY' || fail "resolving the sdist changed pinned versions"
import sys, tomllib
def pins(path):
    with open(path, "rb") as f:
        return {(p["name"], p["version"], p.get("source")) for p in tomllib.load(f)["package"]}
orig, now = pins(sys.argv[1]), pins(sys.argv[2])
changed = now - orig
if changed:
    sys.exit(f"not pinned in the shipped Cargo.lock: {sorted(changed)}")
print(f"    Cargo.lock: {len(now)} packages, all pinned as shipped ({len(orig) - len(now)} unused entries pruned)")
PY
echo "    camwire -> ${core_manifest#"$work"/}"

echo "==> pip wheel from the sdist, offline"
target="${CAMWIRE_SDIST_TARGET:-$work/target}"
mkdir -p "$target"
build=(env PATH="$work/venv/bin:$PATH" CARGO_NET_OFFLINE=true CARGO_TARGET_DIR="$(realpath "$target")"
  "$work/venv/bin/python" -m pip wheel -q --disable-pip-version-check --no-index --no-deps
  --no-build-isolation -w "$work/wheel" "$sdist")
if unshare -n true 2>/dev/null; then
  netns=(unshare -n)
  how="no network namespace (unshare -n)"
elif unshare -rn true 2>/dev/null; then
  netns=(unshare -rn)
  how="no network namespace (unshare -rn)"
else
  netns=()
  how="CARGO_NET_OFFLINE=true only (unshare not permitted here)"
fi
t0=$SECONDS
"${netns[@]}" "${build[@]}" || fail "the offline build of the sdist failed ($how)"
echo "    built in $((SECONDS - t0)) s, $how"

echo "==> the wheel from the sdist installs and imports"
wheel="$(echo "$work"/wheel/camwire-*.whl)"
[[ -f "$wheel" ]] || fail "pip wheel wrote no wheel"
echo "    $(basename "$wheel")"
"$py" -m venv "$work/check"
"$work/check/bin/python" -m pip install -q --disable-pip-version-check --no-index --no-deps "$wheel"
(cd "$work" && "$work/check/bin/python" -c '
import collections.abc, camwire
assert issubclass(camwire.Listing, collections.abc.Sequence)
print("    imported camwire", camwire.__version__)
')
echo "sdist_offline: ok"
