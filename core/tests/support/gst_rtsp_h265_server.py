#!/usr/bin/python3
"""A GStreamer RTSP server serving one MP4 file's H.265 track (gst-rtsp-server, h265parse,
rtph265pay with the parameter sets before every IRAP): the real H.265 peer of camwire's tests.

Usage: gst_rtsp_h265_server.py FILE.mp4 [--port N] [--path /stream]
Prints "READY rtsp://127.0.0.1:PORT/PATH" on stdout once it listens. Unshared: every client
gets its own pipeline from the clip's start; at the clip's end the server sends RTCP BYE.
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--path", default="/stream")
    a = ap.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    loc = a.file.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(
        f'( filesrc location="{loc}" ! qtdemux ! h265parse config-interval=-1 '
        "! rtph265pay name=pay0 pt=96 config-interval=-1 )"
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory(a.path, factory)
    if server.attach(None) == 0:
        print("ERROR cannot attach server", flush=True)
        return 1
    port = server.get_bound_port()
    print(f"READY rtsp://127.0.0.1:{port}{a.path}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
