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
# which most Linux distributions allow.
# Extra arguments go to both test binaries (e.g. --test-threads=1).
set -euo pipefail
cd "$(dirname "$0")/../.."

# Build once, outside the namespace, and run those very binaries inside it (no rebuild in there,
# so a source file edited meanwhile cannot change what is tested). Cargo runs test binaries
# from the package directory; so do we.
mapfile -t BINS < <(cargo test -p camwire --test onvif_server --test discovery_corpus --no-run \
    --message-format=json | grep -o '"executable":"[^"]*"' | cut -d'"' -f4)
ONVIF_SERVER=""
CORPUS=""
for b in "${BINS[@]}"; do
    case "$(basename "$b")" in
        onvif_server-*) ONVIF_SERVER="$b" ;;
        discovery_corpus-*) CORPUS="$b" ;;
    esac
done
if [ -z "$ONVIF_SERVER" ] || [ -z "$CORPUS" ]; then
    echo "run_multicast_discovery.sh: test binaries not found in cargo's output" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    UNSHARE=(unshare -n)
else
    UNSHARE=(unshare -rn)
fi

cd core
exec "${UNSHARE[@]}" -- bash -euo pipefail -c '
    ONVIF_SERVER="$1"; CORPUS="$2"; shift 2
    ip link set lo up
    ip link set lo multicast on
    ip route add 224.0.0.0/4 dev lo
    for net in 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16; do
        ip route add local "$net" dev lo table local
    done
    export CAMWIRE_MULTICAST_TESTS=1
    "$ONVIF_SERVER" multicast_discovery --nocapture "$@"
    "$CORPUS" multicast_ --nocapture "$@"
' bash "$ONVIF_SERVER" "$CORPUS" "$@"
