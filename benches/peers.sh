#!/usr/bin/env bash
# Peer comparison (issue 8): camwire record vs ffmpeg, GStreamer, retina and a raw floor,
# recording N simultaneous streams from a local GStreamer RTSP server. Prints a markdown table.
#
#   benches/peers.sh                       # N=1 and N=16, 60 s, every recorder
#   benches/peers.sh --n 1,16 --secs 60 --repeat 2
#   benches/peers.sh --n 16,32,64 --recorders raw,camwire            # scale run
#   benches/peers.sh --source sim --n 16,32,64 --recorders camwire   # sim camera as source
#
# Needs ffmpeg/ffprobe, gst-launch-1.0 and Debian's python3-gi, gir1.2-gst-rtsp-server-1.0,
# gstreamer1.0-rtsp (the server), gstreamer1.0-plugins-{good,bad} (the GStreamer recorder).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
# PEERS_NO_BUILD=1 uses the binaries already in target/release.
if [ -z "${PEERS_NO_BUILD:-}" ]; then
  cargo build --release -q -p camwire-cli -p camwire-benches --bins
fi
exec /usr/bin/python3 "$here/peers.py" "$@"
