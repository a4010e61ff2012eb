#!/usr/bin/env python3
"""Take a JPEG snapshot from every ONVIF camera found on the LAN (or at the given addresses).

    python snapshot_all.py snaps/ --user admin --password secret
    python snapshot_all.py snaps/ --xaddr 192.0.2.10 --xaddr http://192.0.2.11:8080/onvif/device_service
    python snapshot_all.py snaps/ --sim

Files are named <manufacturer>-<model>-<serial>.jpg. Exit status is the number of cameras
that failed (0 when all worked).
"""

from __future__ import annotations

import argparse
import contextlib
import pathlib
import re
import sys

import camwire


def safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", s).strip("_") or "unknown"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=pathlib.Path, help="folder for the JPEGs")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--xaddr", action="append", default=[], help="device address, skipping discovery (repeatable)")
    p.add_argument("--timeout", type=float, default=3.0, help="discovery time in seconds")
    p.add_argument("--sim", action="store_true", help="start a simulated camera and include it")
    args = p.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    failures = 0
    with contextlib.ExitStack() as stack:
        xaddrs = list(args.xaddr)
        if args.sim:
            sim = stack.enter_context(camwire.sim.SimCamera(user=args.user, password=args.password))
            xaddrs.append(sim.xaddr)
        if not xaddrs:
            xaddrs = [d.xaddr for d in camwire.discover(args.timeout) if d.xaddr]
        if not xaddrs:
            print("no ONVIF camera found", file=sys.stderr)
            return 1
        for xaddr in xaddrs:
            try:
                dev = camwire.OnvifDevice(xaddr, args.user, args.password)
                info = dev.info()
                jpeg = dev.snapshot()
                name = "-".join(safe(x) for x in (info.manufacturer, info.model, info.serial_number))
                path = args.out / f"{name}.jpg"
                path.write_bytes(jpeg)
                print(f"{xaddr}: {path} ({len(jpeg)} bytes)")
            except camwire.CamwireError as e:
                failures += 1
                print(f"{xaddr}: {type(e).__name__}: {e}", file=sys.stderr)
    return failures


if __name__ == "__main__":
    sys.exit(main())
