#!/usr/bin/env python3
"""Discover every ONVIF camera on the LAN and record them all until Ctrl-C (or --duration).

    python record_all.py /srv/rec --user admin --password secret
    python record_all.py /srv/rec --host 192.0.2.10 --host 192.0.2.11   # unicast, no multicast
    python record_all.py /tmp/rec --sim --duration 30                   # a simulated camera

Each camera is recorded under ROOT/<camera-id>/ with its first H.264 profile's stream; the
camera id is the device's serial number (or its address). Status is printed every 10 s.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time

import camwire


def camera_id(dev: camwire.OnvifDevice, fallback: str) -> str:
    try:
        serial = dev.info().serial_number
    except camwire.CamwireError:
        serial = ""
    raw = serial or fallback
    return re.sub(r"[^A-Za-z0-9._-]", "_", raw)[:64] or "camera"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", help="recording root")
    p.add_argument("--user", help="camera user name (ONVIF and RTSP)")
    p.add_argument("--password", help="camera password")
    p.add_argument("--host", action="append", default=[], help="probe this address by unicast (repeatable)")
    p.add_argument("--interface", action="append", default=None, help="probe from this interface only (repeatable)")
    p.add_argument("--discover-secs", type=float, default=3.0, help="how long to wait for replies")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--segment-secs", type=int, default=60)
    p.add_argument("--retain-days", type=float, default=None)
    p.add_argument("--retain-gb", type=float, default=None)
    p.add_argument("--sim", action="store_true", help="also start a simulated camera and record it")
    args = p.parse_args(argv)

    with contextlib.ExitStack() as stack:
        hosts = list(args.host)
        if args.sim:
            sim = stack.enter_context(camwire.sim.SimCamera(user=args.user, password=args.password))
            assert sim.discovery_addr is not None
            hosts.append(sim.discovery_addr)

        found: list[camwire.DiscoveredDevice] = []
        if hosts:
            for h in hosts:
                found += camwire.discover(args.discover_secs, host=h)
        else:
            found = camwire.discover(args.discover_secs, args.interface)
        if not found:
            print("no ONVIF camera answered", file=sys.stderr)
            return 1

        rec = stack.enter_context(
            camwire.Recorder(
                args.root,
                segment_secs=args.segment_secs,
                retain_days=args.retain_days,
                retain_gb=args.retain_gb,
            )
        )
        seen: set[str] = set()
        for d in found:
            if not d.xaddr or d.endpoint in seen:
                continue
            seen.add(d.endpoint)
            try:
                dev = camwire.OnvifDevice(d.xaddr, args.user, args.password)
                h264 = [pr for pr in dev.profiles() if (pr.encoding or "").upper() == "H264" and pr.stream_uri]
                if not h264:
                    print(f"{d.xaddr}: no H.264 profile with a stream URI, skipped", file=sys.stderr)
                    continue
                cid = camera_id(dev, d.source.split(":")[0])
                uri = h264[0].stream_uri
                assert uri is not None
                rec.add_camera(cid, uri, args.user, args.password)
                print(f"recording {cid}: {d.name or '?'} {uri}")
            except camwire.CamwireError as e:
                print(f"{d.xaddr}: {e}", file=sys.stderr)

        if not rec.cameras():
            return 1
        deadline = None if args.duration is None else time.monotonic() + args.duration
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(min(10.0, max(0.0, (deadline or float("inf")) - time.monotonic())))
                for cid, s in rec.status().items():
                    print(
                        f"{cid}: {s['state']} {s['frames']} frames {s['files']} files "
                        f"{s['bitrate_bps'] / 1000:.0f} kbit/s lost={s['lost_packets']} "
                        f"err={s['last_error'] or '-'}"
                    )
        except KeyboardInterrupt:
            print("stopping")
        final = rec.close()  # open fragments written, files closed
        for cid, s in final.items():
            print(f"{cid}: {s['frames']} frames in {s['files']} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
