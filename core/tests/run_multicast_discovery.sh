#!/usr/bin/env bash
# Runs the multicast WS-Discovery integration test (core/tests/onvif_server.rs,
# `multicast_discovery`) inside a private network namespace, where loopback can carry
# multicast (a normal host's `lo` lacks the MULTICAST flag; see design.md section 7).
#
# As root this uses `unshare -n`; otherwise `unshare -rn` (a user namespace mapping us to root),
# which most Linux distributions allow. The test binary is built first, outside the namespace.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo test -p camwire --test onvif_server --no-run

if [ "$(id -u)" -eq 0 ]; then
    UNSHARE=(unshare -n)
else
    UNSHARE=(unshare -rn)
fi

exec "${UNSHARE[@]}" -- bash -euo pipefail -c '
    ip link set lo up
    ip link set lo multicast on
    ip route add 224.0.0.0/4 dev lo
    CAMWIRE_MULTICAST_TESTS=1 cargo test --offline -p camwire --test onvif_server -- \
        multicast_discovery --nocapture "$@"
' bash "$@"
