#!/usr/bin/env python3
"""Export a clip from a camwire recording folder, verify it, and print its manifest summary.

    python extract_clip.py /srv/rec gate 2025-11-23T12:00:00Z 2025-11-23T12:05:00Z gate.mp4
    python extract_clip.py /srv/rec gate --list            # what was recorded, and the gaps
    python extract_clip.py --sim                           # self-contained demo, see below

Times are ISO 8601 / RFC 3339 (a time without an offset is taken as UTC). Exit status 0 when
the clip was written and verifies, 1 otherwise.

--sim needs no camera and no recording: it starts a simulated camera in this process, records
it for --sim-secs seconds (into ROOT, or a temporary folder), exports the middle of what was
recorded and verifies the clip.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import pathlib
import sys
import tempfile
import time

import camwire


def record_sim(root: pathlib.Path, camera: str, seconds: float) -> camwire.Listing:
    """Records the simulated camera for `seconds` under `root`/`camera`; returns what was kept."""
    with camwire.sim.SimCamera() as cam, camwire.Recorder(root) as rec:
        rec.add_camera(camera, cam.rtsp_url)
        deadline = time.monotonic() + 10.0
        while rec.status()[camera]["frames"] == 0:
            if time.monotonic() > deadline:
                raise SystemExit("the simulated camera sent no frame in 10 s")
            time.sleep(0.05)
        time.sleep(seconds)
    # Leaving the with-block finalized the files.
    return camwire.ranges(root, camera)


def sim_demo(root: str | None, camera: str, seconds: float, fragmented: bool) -> int:
    with contextlib.ExitStack() as stack:
        folder = pathlib.Path(root) if root else pathlib.Path(stack.enter_context(tempfile.TemporaryDirectory()))
        print(f"recording the simulated camera for {seconds:.1f} s into {folder}")
        listing = record_sim(folder / "rec", camera, seconds)
        if not listing:
            print("error: nothing was recorded", file=sys.stderr)
            return 1
        first, last = listing[0], listing[-1]
        print(f"recorded {len(listing)} range(s), {first.start.isoformat()} .. {last.end.isoformat()}")
        # The middle of the first range, a second in from each end (or all of it if short).
        margin = dt.timedelta(seconds=1.0) if first.duration > 3.0 else dt.timedelta(0)
        out = folder / "clip.mp4"
        return export_and_verify(folder / "rec", camera, first.start + margin, first.end - margin, out, fragmented)


def export_and_verify(
    root: str | pathlib.Path,
    camera: str,
    start: str | dt.datetime,
    end: str | dt.datetime,
    out: str | pathlib.Path,
    fragmented: bool,
) -> int:
    result = camwire.export(root, camera, start, end, out, fragmented=fragmented)
    print(f"wrote    {result.path} ({result.size} bytes, {result.container})")
    print(f"manifest {result.manifest_path}")
    print(f"covers   {result.start.isoformat()} .. {result.end.isoformat()}, {result.frames} frames")
    print(f"sha256   {result.sha256}")
    for gap in result.gaps:
        print(f"gap      {gap.start.isoformat()} .. {gap.end.isoformat()} ({gap.duration:.1f} s) {gap.reason or ''}")

    check = camwire.verify(result.path)
    if check.ok and result.frames > 0:
        print("verify   ok")
        return 0
    for problem in check.problems:
        print(f"verify   {problem}", file=sys.stderr)
    if result.frames == 0:
        print("error: the clip has no frame", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", nargs="?", help="recording root (the Recorder's / `camwire record --out` folder)")
    p.add_argument("camera", nargs="?", help="camera id (a folder under the root)")
    p.add_argument("start", nargs="?", help="clip start, e.g. 2025-11-23T12:00:00Z")
    p.add_argument("end", nargs="?", help="clip end")
    p.add_argument("out", nargs="?", help="output .mp4 (must not exist; the manifest goes beside it)")
    p.add_argument("--fragmented", action="store_true", help="fragmented MP4 with per-fragment wall-clock")
    p.add_argument("--list", action="store_true", help="only list recorded ranges and gaps")
    p.add_argument("--sim", action="store_true", help="record a simulated camera first, then export and verify")
    p.add_argument("--sim-secs", type=float, default=4.0, help="how long --sim records (default 4)")
    args = p.parse_args(argv)

    try:
        if args.sim:
            return sim_demo(args.root, args.camera or "sim", args.sim_secs, args.fragmented)
        if not (args.root and args.camera):
            p.error("root and camera are needed (or pass --sim)")
        if args.list or not (args.start and args.end and args.out):
            listing = camwire.ranges(args.root, args.camera, args.start, args.end)
            for r in listing:
                print(f"recorded {r.start.isoformat()} .. {r.end.isoformat()} ({r.duration:.1f} s)")
            for gap in listing.gaps:
                print(f"gap      {gap.start.isoformat()} .. {gap.end.isoformat()} ({gap.duration:.1f} s) {gap.reason or ''}")
            if not args.list:
                p.error("start, end and out are needed to export (or pass --list)")
            return 0

        return export_and_verify(args.root, args.camera, args.start, args.end, args.out, args.fragmented)
    except camwire.CamwireError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
