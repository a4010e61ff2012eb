#!/usr/bin/env python3
"""Export a clip from a camwire recording folder, verify it, and print its manifest summary.

    python extract_clip.py /srv/rec gate 2025-11-23T12:00:00Z 2025-11-23T12:05:00Z gate.mp4
    python extract_clip.py /srv/rec gate --list            # what was recorded, and the gaps

Times are ISO 8601 / RFC 3339 (a time without an offset is taken as UTC). Exit status 0 when
the clip was written and verifies, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys

import camwire


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", help="recording root (the Recorder's / `camwire record --out` folder)")
    p.add_argument("camera", help="camera id (a folder under the root)")
    p.add_argument("start", nargs="?", help="clip start, e.g. 2025-11-23T12:00:00Z")
    p.add_argument("end", nargs="?", help="clip end")
    p.add_argument("out", nargs="?", help="output .mp4 (must not exist; the manifest goes beside it)")
    p.add_argument("--fragmented", action="store_true", help="fragmented MP4 with per-fragment wall-clock")
    p.add_argument("--list", action="store_true", help="only list recorded ranges and gaps")
    args = p.parse_args(argv)

    try:
        if args.list or not (args.start and args.end and args.out):
            listing = camwire.ranges(args.root, args.camera, args.start, args.end)
            for start, end in listing.ranges:
                print(f"recorded {start.isoformat()} .. {end.isoformat()} ({(end - start).total_seconds():.1f} s)")
            for gap in listing.gaps:
                print(f"gap      {gap.start.isoformat()} .. {gap.end.isoformat()} ({gap.duration:.1f} s) {gap.reason or ''}")
            if not args.list:
                p.error("start, end and out are needed to export (or pass --list)")
            return 0

        result = camwire.export(args.root, args.camera, args.start, args.end, args.out, fragmented=args.fragmented)
        print(f"wrote    {result.path} ({result.size} bytes, {result.container})")
        print(f"manifest {result.manifest_path}")
        print(f"covers   {result.start.isoformat()} .. {result.end.isoformat()}, {result.frames} frames")
        print(f"sha256   {result.sha256}")
        for gap in result.gaps:
            print(f"gap      {gap.start.isoformat()} .. {gap.end.isoformat()} ({gap.duration:.1f} s) {gap.reason or ''}")

        check = camwire.verify(result.path)
        if check.ok:
            print("verify   ok")
            return 0
        for problem in check.problems:
            print(f"verify   {problem}", file=sys.stderr)
        return 1
    except camwire.CamwireError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
