#!/usr/bin/env python3
"""Upload cost: camwire's uploader against curl, shipping the same segment files to the same
S3 server (s3s-fs on loopback, a fresh bucket each run).

- camwire: `upload-files` (benches/src/bin), the recorder's uploader: SHA-256 of each file,
  create-only PUT (If-None-Match: *) carrying x-amz-checksum-sha256, the per-camera journal.
  Concurrency 4 (the default).
- curl: `curl --aws-sigv4 -T file` per file, 4 at a time (a shell-script uploader; curl
  sends the body unhashed, UNSIGNED-PAYLOAD, and no checksum).

CPU = user+sys of the uploader processes (wait4), per GB shipped; throughput = GB / wall.
The server's own CPU is not counted (the same server for both).

With `--record N`: what uploading adds to recording. `camwire record` of N streams from the
GStreamer RTSP server (the peers.sh source: 1080p25, 4 Mbit/s, S seconds, then BYE) with
10 s segments, without and with `--upload` to s3s-fs, alternating; CPU per stream-minute of
the recorder process (its exit drains the upload backlog, so all upload work is counted).

    python3 benches/upload.py [--gb 1] [--file-mb 16] [--repeat 3]
    python3 benches/upload.py --record 16 [--secs 60] [--repeat 3]
"""
import argparse
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
REL = os.path.join(TARGET, "release")
KEY, SECRET = "AKCAMWIREBENCH", "SKcamwire/bench+secret"


def s3s_fs_binary():
    exe = os.environ.get("CAMWIRE_S3S_FS") or shutil.which("s3s-fs")
    return exe or os.path.expanduser("~/.cargo/bin/s3s-fs")


def start_server(data):
    os.makedirs(os.path.join(data, "bench"), exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([s3s_fs_binary(), "--host", "127.0.0.1", "--port", str(port),
                          "--access-key", KEY, "--secret-key", SECRET, data],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p, f"http://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("s3s-fs did not start")
            time.sleep(0.05)


def make_files(root, gb, file_mb):
    """Segment-shaped files (random bytes: the content does not change the cost)."""
    n = max(1, round(gb * 1000 / file_mb))
    chunk = os.urandom(file_mb * 1_000_000)
    paths = []
    for i in range(n):
        d = os.path.join(root, f"cam-{i % 8:02}", "2026-12-07")
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, f"20261207T{i // 3600:02}{i // 60 % 60:02}{i % 60:02}.000Z.mp4")
        with open(p, "wb") as f:
            f.write(chunk[i:] + chunk[:i])  # each file different
        paths.append(p)
    return paths


def run_camwire(root, endpoint, prefix):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
               AWS_REGION="us-east-1")
    t0 = time.monotonic()
    p = subprocess.Popen([os.path.join(REL, "upload-files"), "--endpoint", endpoint,
                          "--url", f"s3://bench/{prefix}", root],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    out, err = p.stdout.read(), p.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"upload-files failed: {err.strip()[-500:]}")
    return ru.ru_utime + ru.ru_stime, wall, out.strip()


def run_curl(paths, root, endpoint, prefix, parallel=4):
    t0 = time.monotonic()
    cpu, todo, running = 0.0, list(paths), {}
    while todo or running:
        while todo and len(running) < parallel:
            f = todo.pop()
            key = os.path.relpath(f, root)
            p = subprocess.Popen(["curl", "-sS", "-f", "--aws-sigv4", "aws:amz:us-east-1:s3",
                                  "--user", f"{KEY}:{SECRET}",
                                  "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T", f,
                                  f"{endpoint}/bench/{prefix}/{key}"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            running[p.pid] = p
        pid, status, ru = os.wait4(-1, 0)
        if pid in running:
            p = running.pop(pid)
            cpu += ru.ru_utime + ru.ru_stime
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"curl failed: {p.stderr.read()[-300:]!r}")
    return cpu, time.monotonic() - t0


def stored_ok(data, prefix, paths, root):
    for f in paths:
        obj = os.path.join(data, "bench", prefix, os.path.relpath(f, root))
        if os.path.getsize(obj) != os.path.getsize(f):
            return False
    return True


def record_overhead(n, secs, repeat):
    sys.path.insert(0, HERE)
    import peers  # the peers.sh harness: its clip and server

    clip = peers.make_clip(secs, 4000, os.path.join(TARGET, "peers-cache"))
    rows = {"off": [], "on": []}
    tmp = tempfile.mkdtemp(prefix="camwire-upload-record-")
    try:
        for r in range(repeat):
            for mode in ("off", "on"):
                server, url = peers.start_server("gst", clip, secs)
                s3 = None
                out = os.path.join(tmp, f"rec-{mode}-{r}")
                cmd = [os.path.join(REL, "camwire"), "record", "--out", out, "--duration",
                       str(secs + 15), "--segment-secs", "10", "--reconnect", "no"]
                for _ in range(n):
                    cmd += ["--url", url]
                env = dict(os.environ)
                if mode == "on":
                    s3, endpoint = start_server(os.path.join(tmp, f"s3-{r}"))
                    cmd += ["--upload", "s3://bench/rec"]
                    env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID=KEY,
                               AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="us-east-1",
                               AWS_ALLOW_HTTP="true")
                try:
                    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True, env=env)
                    _, status, ru = os.wait4(p.pid, 0)
                    stdout = p.stdout.read()
                    if os.waitstatus_to_exitcode(status) != 0:
                        raise SystemExit(f"camwire record failed: {p.stderr.read()[-500:]}")
                finally:
                    server.stdin.close()
                    server.terminate()
                    server.wait()
                    if s3:
                        s3.kill()
                        s3.wait()
                frames = [sum(peers.count_packets(f) for f in glob.glob(
                    os.path.join(d, "**", "*.mp4"), recursive=True))
                    for d in sorted(glob.glob(os.path.join(out, "cam*")))]
                shipped = ""
                if mode == "on":
                    m = re.search(r"(\d+) file\(s\) shipped this run, (\d+) file\(s\)", stdout)
                    shipped = f", shipped {m.group(1)}, pending {m.group(2)}" if m else ", ?"
                cpu = ru.ru_utime + ru.ru_stime
                rows[mode].append(cpu / (n * secs / 60))
                print(f"run {r} upload {mode}: {cpu:.2f} CPU-s, frames min {min(frames)} "
                      f"of {25 * secs}{shipped}", file=sys.stderr)
                shutil.rmtree(out, ignore_errors=True)
        med = lambda v: sorted(v)[len(v) // 2]
        print(f"camwire record, N={n}, {secs} s, 10 s segments, {repeat} runs (median [min max])")
        print("| upload | CPU s / stream-minute | × without |")
        print("|---|---|---|")
        for mode in ("off", "on"):
            v = rows[mode]
            print(f"| {mode} | {med(v):.3f} [{min(v):.3f} {max(v):.3f}] | "
                  f"{med(v) / med(rows['off']):.2f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--file-mb", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--record", type=int, metavar="N", help="recording overhead with N streams")
    ap.add_argument("--secs", type=int, default=60)
    a = ap.parse_args()
    if a.record:
        record_overhead(a.record, a.secs, a.repeat)
        return
    tmp = tempfile.mkdtemp(prefix="camwire-upload-bench-")
    try:
        root = os.path.join(tmp, "segments")
        paths = make_files(root, a.gb, a.file_mb)
        gb = sum(os.path.getsize(p) for p in paths) / 1e9
        rows = {"camwire": [], "curl": []}
        for r in range(a.repeat):
            for kind in ("camwire", "curl"):
                data = os.path.join(tmp, f"s3-{kind}-{r}")
                server, endpoint = start_server(data)
                try:
                    if kind == "camwire":
                        cpu, wall, _ = run_camwire(root, endpoint, "p")
                        # The journal must not count as a segment next time.
                        for d in os.listdir(root):
                            j = os.path.join(root, d, "uploaded.jsonl")
                            if os.path.exists(j):
                                os.remove(j)
                    else:
                        cpu, wall = run_curl(paths, root, endpoint, "p")
                    if not stored_ok(data, "p", paths, root):
                        raise SystemExit(f"{kind}: objects missing or short")
                finally:
                    server.kill()
                    server.wait()
                    shutil.rmtree(data, ignore_errors=True)
                rows[kind].append((cpu / gb, gb / wall))
                print(f"run {r} {kind}: {cpu:.2f} CPU-s, {wall:.2f} s wall", file=sys.stderr)
        print(f"{len(paths)} files of {a.file_mb} MB, {gb:.2f} GB, {a.repeat} runs (median [min max])")
        print("| uploader | CPU s / GB | × curl | GB/s on loopback |")
        print("|---|---|---|---|")
        med = lambda v: sorted(v)[len(v) // 2]
        base = med([c for c, _ in rows["curl"]])
        for kind, label in (("camwire", "camwire uploader (SHA-256, checksum PUT, journal)"),
                            ("curl", "curl --aws-sigv4 -T, 4 at a time")):
            cpus = [c for c, _ in rows[kind]]
            tps = [t for _, t in rows[kind]]
            print(f"| {label} | {med(cpus):.2f} [{min(cpus):.2f} {max(cpus):.2f}] | "
                  f"{med(cpus) / base:.2f} | {med(tps):.2f} [{min(tps):.2f} {max(tps):.2f}] |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
