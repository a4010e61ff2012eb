#!/usr/bin/env python3
"""What one live frame costs from Python: iterate frames from the unpaced simulated camera.

    python python/bench/frame_cost.py [--frames 20000] [--repeat 3]

Prints, per run: frames/s and microseconds per frame for
- `for frame in stream` touching nothing,
- the same plus `len(frame.data)` (the memoryview) and `frame.pts`,
- `stream._drain(n)`: the same frames pulled and assembled in Rust without Python objects,
and the difference (the Python-side cost). Use a release build (`pip install ./python`).
"""

from __future__ import annotations

import argparse
import statistics
import time

import camwire


def run(url: str, n: int, mode: str) -> float:
    with camwire.Stream(url) as s:
        # Warm up: connection, first keyframe.
        s._drain(50)  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        if mode == "iterate":
            k = 0
            for _ in s:
                k += 1
                if k == n:
                    break
        elif mode == "touch":
            k = 0
            total = 0
            for f in s:
                total += len(f.data) + (f.pts & 1)
                k += 1
                if k == n:
                    break
        else:
            s._drain(n)  # type: ignore[attr-defined]
        return (time.perf_counter() - t0) / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=20000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    with camwire.sim.SimCamera(realtime=False) as cam:
        results: dict[str, list[float]] = {"iterate": [], "touch": [], "drain": []}
        for _ in range(args.repeat):
            for mode in results:
                results[mode].append(run(cam.rtsp_url, args.frames, mode))
    print(f"{'mode':<28}{'us/frame (median)':>20}{'frames/s':>12}")
    labels = {
        "iterate": "for frame in stream",
        "touch": "... + len(frame.data), pts",
        "drain": "Rust only (_drain)",
    }
    med = {m: statistics.median(v) for m, v in results.items()}
    for m, v in med.items():
        print(f"{labels[m]:<28}{v * 1e6:>20.2f}{1 / v:>12.0f}")
    print(f"{'Python-side cost':<28}{(med['iterate'] - med['drain']) * 1e6:>20.2f}")


if __name__ == "__main__":
    main()
