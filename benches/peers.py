#!/usr/bin/env python3
"""Peer comparison: camwire against ffmpeg, GStreamer, retina and a raw floor, recording N
simultaneous live streams from a local RTSP server. Run through benches/peers.sh.

The source is a GStreamer RTSP server on loopback (examples/tests/support/gst_rtsp_server.py)
serving a 1080p25 x264 clip (testsrc2, 4 Mbit/s, -preset veryfast -bf 0 -g 50) exactly S seconds
long, so every session sends 25*S frames and then RTCP BYE; with `--source sim`, camwire's
simulated camera (640x360, ~300 kbit/s, BYE after S s) instead. Unshared: each client gets its
own server pipeline (server CPU grows with N; only the recorders are measured).

Per recorder and N: CPU seconds (user+sys of the recorder processes, from wait4) per
stream-minute, peak RSS per stream (one process: its peak / N; one process per stream: the mean
of their peaks), frames recorded vs sent (ffprobe -count_packets on MP4 outputs: one packet per
frame, no decoding; marker bits for the raw floor; retina's own count).
"""
import argparse
import datetime
import glob
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
REL = os.path.join(TARGET, "release")
GST_SERVER = os.path.join(ROOT, "examples", "tests", "support", "gst_rtsp_server.py")
FPS = 25
ALL = ["raw", "raw-each", "retina-raw", "retina-demuxed", "camwire", "camwire-nocoalesce",
       "camwire-coalesce", "camwire-nofsync", "camwire-base", "ffmpeg", "gstreamer"]
# camwire-base: another camwire binary (PEERS_CAMWIRE_BASE, e.g. a copy of an earlier build)
# recorded like `camwire`, to compare two builds in the same run.
BASE_BIN = os.environ.get("PEERS_CAMWIRE_BASE", "")
# Read coalescing of camwire's RTSP client for the camwire-coalesce recorder (--coalesce-ms).
COALESCE_MS = 40
LABELS = {
    "raw": "raw floor (RTSP handshake, socket bytes to a file, 256 KiB writes)",
    "raw-each": "raw floor, one write per read (naive)",
    "retina-raw": "retina transport alone (payloads to a file)",
    "retina-demuxed": "retina demuxed(), frames to a file (no MP4)",
    "camwire": "camwire record (fMP4, default fdatasync per fragment, default coalescing)",
    "camwire-nocoalesce": "camwire record, no read coalescing (CAMWIRE_RTSP_COALESCE_MS=0)",
    "camwire-coalesce": "camwire record, read coalescing (CAMWIRE_RTSP_COALESCE_MS={ms})",
    "camwire-nofsync": "camwire record --fsync never",
    "camwire-base": "camwire record, the PEERS_CAMWIRE_BASE build",
    "ffmpeg": "ffmpeg -c copy, fragmented MP4",
    "gstreamer": "GStreamer rtspsrc ! ... ! mp4mux fragmented",
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def make_clip(secs, kbps, cache):
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, f"testsrc2-1920x1080-{secs}s-{kbps}k.mp4")
    if os.path.exists(path):
        return path
    log(f"making {path} (once) ...")
    part = path + f".{os.getpid()}.part.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25",
         "-t", str(secs), "-c:v", "libx264", "-preset", "veryfast", "-bf", "0",
         "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
         "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{kbps * 2}k", part],
        check=True)
    os.rename(part, path)
    return path


def start_server(source, clip, secs):
    if source == "sim":
        cmd = [os.path.join(REL, "sim-camera"), "--secs", str(secs)]
    else:
        cmd = ["/usr/bin/python3", GST_SERVER, clip]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("READY "):
        p.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return p, line.split()[1]


def proc_cpu(pid):
    """user+sys seconds of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vm_hwm_kb(pid):
    """Peak resident set of a live process in KiB (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def count_packets(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
         "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path],
        capture_output=True, text=True)
    try:
        return int(out.stdout.strip().split(",")[0])
    except ValueError:
        return 0


def count_markers(path):
    """Access units in an interleaved dump: RTP packets on channel 0 with the marker bit."""
    with open(path, "rb") as f:
        data = f.read()
    i, n = 0, 0
    while i + 4 <= len(data):
        if data[i] != 0x24:  # '$'; anything else (an RTSP message) is skipped byte by byte
            i += 1
            continue
        ch, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        pkt = data[i + 4:i + 4 + length]
        if ch == 0 and len(pkt) >= 2 and pkt[1] & 0x80:
            n += 1
        i += 4 + length
    return n


def run_recorder(kind, url, n, secs, out):
    """Starts the recorder(s) for n streams; returns (cpu_s, [peak_rss_kb per process], frames
    per stream list, processes count)."""
    os.makedirs(out, exist_ok=True)
    grace = secs + 15  # ends on BYE; this is only a safety net
    procs = []
    if kind.startswith("camwire"):
        # --reconnect no: stop at the server's BYE like the other recorders (24/7 recording
        # would reconnect and record the clip again).
        binary = os.path.join(REL, "camwire")
        if kind == "camwire-base":
            if not BASE_BIN:
                raise SystemExit("camwire-base needs PEERS_CAMWIRE_BASE=/path/to/camwire")
            binary = BASE_BIN
        cmd = [binary, "record", "--out", out, "--duration", str(grace),
               "--segment-secs", "86400", "--reconnect", "no"]
        if kind == "camwire-nofsync":
            cmd += ["--fsync", "never"]
        for _ in range(n):
            cmd += ["--url", url]
        env = dict(os.environ)
        if kind == "camwire-nocoalesce":
            env["CAMWIRE_RTSP_COALESCE_MS"] = "0"
        elif kind == "camwire-coalesce":
            env["CAMWIRE_RTSP_COALESCE_MS"] = str(COALESCE_MS)
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      env=env))
    elif kind in ("raw", "raw-each"):
        # No parsing means no BYE either: it stops at the duration.
        cmd = [os.path.join(REL, "raw-floor"), "--duration", str(secs + 2), "--out", out]
        if kind == "raw-each":
            cmd.append("--write-each-read")
        procs.append(subprocess.Popen(cmd + [url] * n, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE))
    elif kind.startswith("retina-"):
        cmd = [os.path.join(REL, "retina-record"), "--mode", kind.split("-")[1],
               "--duration", str(secs + 2), "--out", out]
        procs.append(subprocess.Popen(cmd + [url] * n, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    elif kind == "ffmpeg":
        for i in range(n):
            procs.append(subprocess.Popen(
                ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", url,
                 "-c", "copy", "-f", "mp4", "-movflags", "frag_keyframe+empty_moov+default_base_moof",
                 "-y", os.path.join(out, f"ffmpeg-{i + 1}.mp4")],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    elif kind == "gstreamer":
        for i in range(n):
            procs.append(subprocess.Popen(
                ["gst-launch-1.0", "-q", "-e", "rtspsrc", f"location={url}", "protocols=tcp", "!",
                 "rtph264depay", "!", "h264parse", "!", "mp4mux", "fragment-duration=1000", "!",
                 "filesink", f"location={os.path.join(out, f'gst-{i + 1}.mp4')}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    else:
        raise SystemExit(f"unknown recorder {kind}")
    deadline = time.monotonic() + grace + 10
    cpu, rss, outputs = 0.0, [], []
    # Peak RSS: VmHWM polled from /proc (wait4's ru_maxrss is useless here: Linux folds the
    # forking Python's RSS into it at exec).
    hwm = {p.pid: 0 for p in procs}
    for p in procs:
        while True:
            for q in procs:
                hwm[q.pid] = max(hwm[q.pid], vm_hwm_kb(q.pid))
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                # A GStreamer client that missed the BYE: EOS via SIGINT (-e), then wait.
                p.send_signal(signal.SIGINT)
                deadline = time.monotonic() + 10
            time.sleep(0.25)
        p.returncode = os.waitstatus_to_exitcode(status)
        cpu += ru.ru_utime + ru.ru_stime
        rss.append(hwm[p.pid])
        stdout = p.stdout.read() if p.stdout else ""
        stderr = p.stderr.read() if p.stderr else b""
        outputs.append(stdout if isinstance(stdout, str) else stdout.decode(errors="replace"))
        if p.returncode != 0:
            err = stderr if isinstance(stderr, str) else stderr.decode(errors="replace")
            log(f"  {kind}: exit {p.returncode}: {err.strip()[-300:]}")
    # Frames per stream.
    if kind.startswith("camwire") or kind in ("ffmpeg", "gstreamer"):
        frames = []
        if kind.startswith("camwire"):
            for d in sorted(glob.glob(os.path.join(out, "cam*"))):
                frames.append(sum(count_packets(f) for f in
                                  glob.glob(os.path.join(d, "**", "*.mp4"), recursive=True)))
        else:
            frames = [count_packets(f) for f in sorted(glob.glob(os.path.join(out, "*.mp4")))]
    elif kind in ("raw", "raw-each"):
        frames = [count_markers(f) for f in sorted(glob.glob(os.path.join(out, "raw-*.rtp")))]
    else:
        frames = [int(m) for m in re.findall(r": (\d+) frames", outputs[0])]
    frames += [0] * (n - len(frames))
    return cpu, rss, frames, len(procs)


def label(kind):
    return LABELS[kind].format(ms=COALESCE_MS)


def fmt_mb(kb):
    return f"{kb / 1024:.1f}"


def main():
    global COALESCE_MS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", default="1,16", help="stream counts, comma-separated (default 1,16)")
    ap.add_argument("--secs", type=int, default=60, help="seconds per run (default 60)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of every cell (median shown)")
    default_kinds = [k for k in ALL if k != "camwire-base" or BASE_BIN]
    ap.add_argument("--recorders", default=",".join(default_kinds),
                    help=f"subset of {','.join(ALL)}")
    ap.add_argument("--source", choices=["gst", "sim"], default="gst")
    ap.add_argument("--kbps", type=int, default=4000)
    ap.add_argument("--keep", action="store_true", help="keep the recordings")
    ap.add_argument("--coalesce-ms", type=int, default=COALESCE_MS,
                    help=f"read coalescing of camwire-coalesce (default {COALESCE_MS})")
    a = ap.parse_args()
    COALESCE_MS = a.coalesce_ms
    ns = [int(x) for x in a.n.split(",")]
    kinds = [k for k in a.recorders.split(",") if k]
    for k in kinds:
        if k not in ALL:
            raise SystemExit(f"unknown recorder {k}; known: {', '.join(ALL)}")
    clip = None
    if a.source == "gst":
        clip = make_clip(a.secs, a.kbps, os.path.join(TARGET, "peers-cache"))
    sent = FPS * a.secs
    work = tempfile.mkdtemp(prefix="camwire-peers-")
    server, url = start_server(a.source, clip, a.secs)
    log(f"source: {a.source} {url}; work dir {work}")
    results = {}  # (n, kind) -> list of (cpu_per_stream_min, rss_per_stream_kb, min, mean frames, server cpu)
    try:
        for rep in range(a.repeat):
            for n in ns:
                for kind in kinds:
                    out = os.path.join(work, f"{kind}-{n}-{rep}")
                    s0 = proc_cpu(server.pid)
                    t0 = time.monotonic()
                    cpu, rss, frames, nprocs = run_recorder(kind, url, n, a.secs, out)
                    wall = time.monotonic() - t0
                    s1 = proc_cpu(server.pid)
                    per_min = cpu / (n * a.secs / 60)
                    rss_stream = max(rss) / n if nprocs == 1 else statistics.mean(rss)
                    results.setdefault((n, kind), []).append(
                        (per_min, rss_stream, max(rss), min(frames), statistics.mean(frames),
                         s1 - s0, wall))
                    log(f"run {rep + 1} N={n} {kind}: cpu {cpu:.2f} s ({per_min:.3f} s/stream-min), "
                        f"peak RSS {fmt_mb(max(rss))} MB (per stream {fmt_mb(rss_stream)}), "
                        f"frames min {min(frames)} mean {statistics.mean(frames):.0f} of {sent}, "
                        f"server cpu {s1 - s0:.1f} s, wall {wall:.0f} s")
                    if not a.keep:
                        shutil.rmtree(out, ignore_errors=True)
                    # Let the server's finished pipelines wind down.
                    time.sleep(2)
    finally:
        server.stdin.close()
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)

    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                      if l.startswith("model name")), "?")
    print(f"\n{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {os.cpu_count()} CPUs "
          f"({cpu_model}), source {a.source}, {a.secs} s per run, {a.repeat} run(s) per cell "
          f"(median; all runs in brackets)\n")
    print("| N | recorder | CPU s / stream-minute | × raw floor | peak RSS / stream (MB) "
          "| frames recorded / sent (worst stream) | server CPU s |")
    print("|---|---|---|---|---|---|---|")
    for n in ns:
        floor = None
        if (n, "raw") in results:
            floor = statistics.median(r[0] for r in results[(n, "raw")])
        for kind in kinds:
            rs = results[(n, kind)]
            cpu = statistics.median(r[0] for r in rs)
            rss = statistics.median(r[1] for r in rs)
            runs = " ".join(f"{r[0]:.3f}" for r in rs)
            ratio = f"{cpu / floor:.2f}" if floor else "-"
            worst = min(r[3] for r in rs)
            srv = statistics.median(r[5] for r in rs)
            print(f"| {n} | {label(kind)} | {cpu:.3f} [{runs}] | {ratio} | {fmt_mb(rss)} "
                  f"| {worst} / {sent} | {srv:.1f} |")
    # Memory per added stream for single-process recorders.
    if len(ns) > 1:
        lo, hi = min(ns), max(ns)
        print(f"\nPeak RSS per added stream (one process, N={lo} → N={hi}):\n")
        for kind in kinds:
            if kind in ("ffmpeg", "gstreamer"):
                continue
            a_ = statistics.median(r[2] for r in results[(lo, kind)])
            b_ = statistics.median(r[2] for r in results[(hi, kind)])
            print(f"- {label(kind)}: {fmt_mb(a_)} MB → {fmt_mb(b_)} MB, "
                  f"{(b_ - a_) / 1024 / (hi - lo):.2f} MB per added stream")


if __name__ == "__main__":
    main()
