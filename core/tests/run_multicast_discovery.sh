#!/usr/bin/env bash
# Runs the multicast WS-Discovery integration tests inside a private network namespace, where
# loopback can carry multicast (a normal host's `lo` lacks the MULTICAST flag; see design.md
# section 7):
#
# - core/tests/onvif_server.rs `multicast_discovery`: onvif-server's own responder on the group;
# - core/tests/discovery_corpus.rs `multicast_*`: every reply of the discovery corpus
#   (tests/fixtures/discovery/) answered from the fixture's own device address, found by the
#   real multicast `discover` with the right XAddr, and every Hello/Bye heard on the group.
#   The device addresses (10/8, 172.16/12, 192.168/16) are routed to `lo` as local (AnyIP), so
#   a responder can send from 192.168.1.64 as the camera would.
#
# As root this uses `unshare -n`; otherwise `unshare -rn` (a user namespace mapping us to root),
# which most Linux distributions allow. The test binaries are built first, outside the namespace.
# Extra arguments go to both test binaries (e.g. --test-threads=1).
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo test -p camwire --test onvif_server --test discovery_corpus --no-run

if [ "$(id -u)" -eq 0 ]; then
    UNSHARE=(unshare -n)
else
    UNSHARE=(unshare -rn)
fi

exec "${UNSHARE[@]}" -- bash -euo pipefail -c '
    ip link set lo up
    ip link set lo multicast on
    ip route add 224.0.0.0/4 dev lo
    for net in 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16; do
        ip route add local "$net" dev lo table local
    done
    export CAMWIRE_MULTICAST_TESTS=1
    cargo test --offline -p camwire --test onvif_server -- multicast_discovery --nocapture "$@"
    cargo test --offline -p camwire --test discovery_corpus -- multicast_ --nocapture "$@"
' bash "$@"
