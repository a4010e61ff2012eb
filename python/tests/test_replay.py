"""Footage off the device (ONVIF Profile G) through Python: ``OnvifDevice.recordings``,
``OnvifDevice.fetch`` (and the module-level ``camwire.fetch`` on a replay URI), their async
twins, and back-fill into a recording root.

The peer is GStreamer's ONVIF RTSP server with replay support
(``core/tests/support/gst_onvif_server.py``, run with the system ``/usr/bin/python3``, which
has the GStreamer bindings) serving a 20 s, 25 fps clip (a keyframe every 2 s) as a
recording dated 2026-11-25T10:00:00Z, with its SOAP template device (Recording Search and
Replay). With ``--gap 4:12`` the archive has no data from 10:00:04 to 10:00:16: source frames
0..99 are at 10:00:00..10:00:04 and frames 100..499 at 10:00:16..10:00:32.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import pytest

import camwire

REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "core" / "tests" / "support" / "gst_onvif_server.py"
USER = "investigator"
PASSWORD = "pw-n0t-pr1nted"

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or not Path("/usr/bin/python3").exists(),
    reason="needs ffmpeg and the system python3 with GStreamer's RTSP server",
)


def utc(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s of testsrc2, 320x240, 25 fps, H.264 without B-frames, a keyframe every 50."""
    out = tmp_path_factory.mktemp("clip") / "src.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
         "-t", "20", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "50",
         "-keyint_min", "50", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-b:v", "300k",
         str(out)],
        check=True,
    )
    return out


def frame_digests(path: Path) -> list[str]:
    """SHA-256 of each decoded picture (PyAV), in presentation order."""
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            h = hashlib.sha256()
            for p in f.planes:
                h.update(bytes(p))
            out.append(h.hexdigest())
    return out


@pytest.fixture(scope="module")
def source(clip: Path) -> list[str]:
    return frame_digests(clip)


class Server:
    def __init__(self, clip: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(SERVER), str(clip), "--start", "2026-11-25T10:00:00Z",
             *extra],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("READY "), f"server did not start: {line!r}"
        self.replay, self.plain, self.xaddr = line.split()[1:4]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def server(clip: Path) -> Iterator[Server]:
    s = Server(clip)
    yield s
    s.stop()


@pytest.fixture
def gap_server(clip: Path) -> Iterator[Server]:
    s = Server(clip, "--gap", "4:12")
    yield s
    s.stop()


def no_secret(*texts: object) -> None:
    for t in texts:
        assert PASSWORD not in str(t), t


def test_recordings_with_times_ranges_and_the_gap(gap_server: Server) -> None:
    dev = camwire.OnvifDevice(gap_server.xaddr, USER, PASSWORD)
    recs = dev.recordings()
    assert len(recs) == 1
    r = recs[0]
    assert r.token == "RecordingToken_1"
    assert r.earliest == utc("2026-11-25T10:00:00Z")
    assert r.latest == utc("2026-11-25T10:00:32Z")
    assert r.suspect_time is False
    assert [t.kind for t in r.tracks] == ["Video"]
    assert r.ranges is None and r.gaps is None
    assert recs == dev.recordings()
    assert repr(r).startswith("DeviceRecording(token='RecordingToken_1'")
    no_secret(repr(r), repr(dev))

    windowed = dev.recordings("2026-11-25T09:59:00Z", utc("2026-11-25T10:01:00Z"))
    w = windowed[0]
    assert w.ranges == [
        (utc("2026-11-25T10:00:00Z"), utc("2026-11-25T10:00:04Z")),
        (utc("2026-11-25T10:00:16Z"), utc("2026-11-25T10:00:32Z")),
    ]
    assert w.gaps is not None and len(w.gaps) == 1
    g = w.gaps[0]
    assert (g.start, g.end, g.duration) == (
        utc("2026-11-25T10:00:04Z"), utc("2026-11-25T10:00:16Z"), 12.0)
    assert w.ranges[0].duration == 4.0
    assert w != r  # the window adds ranges and gaps

    with pytest.raises(camwire.InvalidInput):
        dev.recordings(start="2026-11-25T10:00:00Z")
    with pytest.raises(camwire.InvalidInput):
        dev.recordings("2026-11-25T10:01:00Z", "2026-11-25T10:00:00Z")


def test_fetch_across_the_gap_decodes_and_verifies(
    gap_server: Server, source: list[str], tmp_path: Path
) -> None:
    dev = camwire.OnvifDevice(gap_server.xaddr, USER, PASSWORD)
    out = tmp_path / "gate.mp4"
    r = dev.fetch("2026-11-25T10:00:02Z", "2026-11-25T10:00:20Z", out, camera="gate")
    assert isinstance(r, camwire.ExportResult)
    assert r.path == out and r.manifest_path == tmp_path / "gate.mp4.manifest.json"
    assert (r.start, r.end) == (utc("2026-11-25T10:00:02Z"), utc("2026-11-25T10:00:20Z"))
    # 10:00:02..10:00:04 is frames 50..99, 10:00:16..10:00:20 frames 100..199.
    assert r.frames == 150
    got = frame_digests(out)
    assert len(got) == 150
    assert got == source[50:200]
    assert [(g.start, g.end) for g in r.gaps] == [
        (utc("2026-11-25T10:00:04Z"), utc("2026-11-25T10:00:16Z"))]
    assert r.sources == [] and r.container == "progressive"
    m = r.manifest
    assert m["camera_id"] == "gate"
    o = m["origin"]
    assert o["kind"] == "onvif-replay"
    assert o["rate_control"] == "no"
    assert o["uri"] == gap_server.replay
    assert len(o["gaps"]) == 1
    d = o["device"]
    assert d["recording_token"] == "RecordingToken_1"
    assert d["serial_number"] == "CW-TEST-0001"
    text = r.manifest_path.read_text()
    assert json.loads(text) == m
    no_secret(text, repr(r), m)

    v = camwire.verify(out)
    assert v.ok and not v.problems, v
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x01
    out.write_bytes(bytes(data))
    bad = camwire.verify(out)
    assert not bad.ok and bad.problems


def test_fetch_window_equals_the_source_frames(
    server: Server, source: list[str], tmp_path: Path
) -> None:
    # No recording named: the device's only recording covering the range is used.
    dev = camwire.OnvifDevice(server.xaddr, USER, PASSWORD)
    out = tmp_path / "w.mp4"
    seen: list[tuple[float, float, float, int]] = []

    def progress(done: float, total: float, wall: float, frames: int) -> None:
        seen.append((done, total, wall, frames))

    r = dev.fetch(utc("2026-11-25T10:00:05Z"), utc("2026-11-25T10:00:15Z"), out,
                  fragmented=True, progress=progress)
    # Called as frames are stored and once at the end: the last call has every frame (the
    # pre-roll too) and the last frame's time past T1.
    assert seen, "progress never called"
    done, total, wall, frames = seen[-1]
    assert total == 10.0 and 9.9 <= done <= 10.0 and frames == 275 and wall > 0
    assert [s[3] for s in seen] == sorted(s[3] for s in seen)
    assert r.frames == 250 and r.container == "fragmented" and r.gaps == []
    # A fragmented clip keeps the pre-roll from the keyframe at 10:00:04 as samples before
    # time zero (ffmpeg shows start_time -1 s); PyAV decodes them too.
    got = frame_digests(out)
    assert r.manifest["samples"] == 275 and len(got) == 275
    assert got[25:] == source[125:375]
    assert got[:25] == source[100:125]
    assert r.manifest["preroll_start"] == "2026-11-25T10:00:04Z"
    assert camwire.verify(out).ok


def test_module_fetch_by_url_and_the_device_without_profile_g(
    server: Server, source: list[str], tmp_path: Path
) -> None:
    host = server.replay.removeprefix("rtsp://")
    url = f"rtsp://{USER}:{PASSWORD}@{host}"
    out = tmp_path / "u.mp4"
    r = camwire.fetch(url, "2026-11-25T10:00:05Z", "2026-11-25T10:00:07Z", out)
    assert r.frames == 50
    assert frame_digests(out) == source[125:175]
    assert r.manifest["origin"]["uri"] == server.replay  # credentials stripped
    assert "device" not in r.manifest["origin"]
    no_secret(r.manifest_path.read_text(), repr(r))

    live = tmp_path / "live.mp4"
    with pytest.raises(camwire.ProtocolError) as e:
        camwire.fetch(server.plain, "2026-11-25T10:00:05Z", "2026-11-25T10:00:07Z", live,
                      user=USER, password=PASSWORD)
    assert "device cannot replay (no Profile G)" in str(e.value)
    no_secret(e.value)
    assert not live.exists()


def test_async_twins(server: Server, source: list[str], tmp_path: Path) -> None:
    dev = camwire.OnvifDevice(server.xaddr, USER, PASSWORD)

    async def go() -> tuple[list[camwire.DeviceRecording], camwire.ExportResult,
                            camwire.ExportResult]:
        recs, r = await asyncio.gather(
            dev.recordings_async(),
            dev.fetch_async("2026-11-25T10:00:05Z", "2026-11-25T10:00:07Z",
                            tmp_path / "a.mp4", recording="RecordingToken_1"),
        )
        u = await camwire.fetch_async(server.replay, "2026-11-25T10:00:09Z",
                                      "2026-11-25T10:00:10Z", tmp_path / "b.mp4")
        return recs, r, u

    recs, r, u = asyncio.run(go())
    assert [x.token for x in recs] == ["RecordingToken_1"]
    assert r.frames == 50 and frame_digests(r.path) == source[125:175]
    assert u.frames == 25 and frame_digests(u.path) == source[225:250]

    async def missing() -> None:
        await dev.fetch_async("2026-11-25T10:00:05Z", "2026-11-25T10:00:07Z",
                              tmp_path / "c.mp4", recording="RecordingToken_9")

    with pytest.raises(camwire.CamwireError) as e:
        asyncio.run(missing())
    assert "NoRecording" in str(e.value)
    no_secret(e.value)
    assert not (tmp_path / "c.mp4").exists()


def test_backfill_into_a_root(server: Server, tmp_path: Path) -> None:
    dev = camwire.OnvifDevice(server.xaddr, USER, PASSWORD)
    root = tmp_path / "rec"
    b = dev.fetch("2026-11-25T10:00:06Z", "2026-11-25T10:00:14Z", into=root, camera="gate")
    assert isinstance(b, camwire.BackfillResult)
    assert b.frames == 200
    assert (b.start, b.end) == (utc("2026-11-25T10:00:06Z"), utc("2026-11-25T10:00:13.96Z"))
    assert b.rate_control == "no" and b.files and all(f.exists() for f in b.files)
    listing = camwire.ranges(root, "gate")
    assert list(listing) == [(utc("2026-11-25T10:00:06Z"), utc("2026-11-25T10:00:14Z"))]
    assert "backfilled from device" in (root / "gate" / "gaps.jsonl").read_text()
    clip = camwire.export(root, "gate", "2026-11-25T10:00:06Z", "2026-11-25T10:00:14Z",
                          tmp_path / "x.mp4")
    assert clip.frames == 200
    no_secret(repr(b))


def test_misuse_is_invalid_input(server: Server, tmp_path: Path) -> None:
    dev = camwire.OnvifDevice(server.xaddr, USER, PASSWORD)
    t1, t2 = "2026-11-25T10:00:05Z", "2026-11-25T10:00:07Z"
    calls: list[Callable[[], object]] = [
        lambda: dev.fetch(t2, t1, tmp_path / "a.mp4"),  # reversed
        lambda: dev.fetch(t1, t1, tmp_path / "a.mp4"),  # empty
        lambda: dev.fetch(t1, t2),  # type: ignore[call-overload]  # no destination
        lambda: dev.fetch(t1, t2, tmp_path / "a.mp4", into=tmp_path, camera="c"),  # type: ignore[call-overload]
        lambda: dev.fetch(t1, t2, into=tmp_path),  # type: ignore[call-overload]
        lambda: dev.fetch(t1, t2, into=tmp_path, camera="c", fragmented=True),  # type: ignore[call-overload]
        lambda: dev.fetch("not a time", t2, tmp_path / "a.mp4"),
        lambda: camwire.fetch("http://x/", t1, t2, tmp_path / "a.mp4"),
        lambda: dev.fetch(t1, t2, tmp_path / "a.mp4", audio="some"),  # type: ignore[call-overload]
    ]
    for call in calls:
        with pytest.raises(camwire.InvalidInput) as e:
            call()
        no_secret(e.value)
    # A range the recording does not hold says what it does hold.
    with pytest.raises(camwire.InvalidInput) as e:
        dev.fetch("2026-11-25T10:05:00Z", "2026-11-25T10:05:10Z", tmp_path / "late.mp4",
                  recording="RecordingToken_1")
    assert "no recording between" in str(e.value)
    assert "holds 2026-11-25T10:00:00Z .. 2026-11-25T10:00:20Z" in str(e.value)
    # No recording covers the range and none was named.
    with pytest.raises(camwire.InvalidInput, match="no recording on the device covers"):
        dev.fetch("2026-11-25T11:00:00Z", "2026-11-25T11:00:10Z", tmp_path / "n.mp4")
    # An existing output is never overwritten.
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"keep")
    with pytest.raises(camwire.InvalidInput):
        dev.fetch(t1, t2, existing)
    assert existing.read_bytes() == b"keep"
    assert not list(tmp_path.glob("a.mp4*"))


def test_recordings_of_the_sim() -> None:
    """The sim's Profile G face: its recording (the last 2 h) and its one 60 s gap, as its
    Recording Search and FindEvents answers give them."""
    with camwire.sim.SimCamera() as cam:
        start, gap = cam.recording_start, cam.recording_gap
        assert start is not None and gap is not None
        assert gap.duration == 60.0
        dev = camwire.OnvifDevice(cam.xaddr)
        recs = dev.recordings()
        assert len(recs) == 1
        r = recs[0]
        assert r.earliest == start and r.latest is not None and r.latest > gap.end
        assert [t.kind for t in r.tracks] == ["Video"]
        end = gap.end + timedelta(seconds=60)
        w = dev.recordings(start - timedelta(minutes=5), end)[0]
        assert w.token == r.token
        assert w.ranges == [(start, gap.start), (gap.end, end)]
        assert w.gaps is not None and [(g.start, g.end) for g in w.gaps] == [gap]
        assert w.gaps[0].duration == 60.0


SIM_CLIP = REPO / "core" / "testdata" / "sim_clip.h264"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def test_fetch_from_the_sim_across_its_gap(tmp_path: Path) -> None:
    """The sim's RTSP replay: 4 s either side of its 60 s gap. The frame captured at t is
    access unit floor(t / 40 ms) mod 250 of the sim's clip (the sim's documented rule)."""
    clip = frame_digests(SIM_CLIP)
    assert len(clip) == 250

    def at(t: datetime) -> str:
        return clip[((t - EPOCH) // timedelta(milliseconds=40)) % 250]

    with camwire.sim.SimCamera() as cam:
        gap = cam.recording_gap
        assert gap is not None
        dev = camwire.OnvifDevice(cam.xaddr)
        t1, t2 = gap.start - timedelta(seconds=4), gap.end + timedelta(seconds=4)
        r = dev.fetch(t1, t2, tmp_path / "sim.mp4")
        assert r.frames == 200
        assert (r.start, r.end) == (t1, t2)
        assert [(g.start, g.end) for g in r.gaps] == [gap]
        step = timedelta(milliseconds=40)
        want = [at(t1 + i * step) for i in range(100)] + [at(gap.end + i * step)
                                                          for i in range(100)]
        assert frame_digests(r.path) == want
        o = r.manifest["origin"]
        assert o["uri"] == cam.replay_url
        assert o["device"]["recording_token"] == "SimRecording_1"
        assert o["rate_control"] == "no" and len(o["gaps"]) == 1
        assert camwire.verify(r.path).ok
        data = bytearray(r.path.read_bytes())
        data[len(data) // 2] ^= 0x01
        r.path.write_bytes(bytes(data))
        assert not camwire.verify(r.path).ok

        # The async twin, from the replay URL.
        assert cam.replay_url is not None
        url = cam.replay_url

        async def go() -> camwire.ExportResult:
            return await camwire.fetch_async(url, t1, gap.start, tmp_path / "u.mp4")

        u = asyncio.run(go())
        assert u.frames == 100 and frame_digests(u.path) == want[:100]


def test_vendor_playback_urls(clip: Path, source: list[str], tmp_path: Path) -> None:
    """camwire.fetch(vendor=...) on devices without a working Profile G: the GStreamer peer
    serves Hikvision's and Dahua's own playback paths (Dahua in local time, UTC+7), reading
    the window from the URL as those devices do, without 0xABAC."""
    s = Server(clip, "--vendor-mount", "/Streaming/tracks/101", "--vendor-mount",
               "/cam/playback", "--utc-offset", "25200")
    try:
        base = s.replay.rsplit("/recording/", 1)[0]
        t1, t2 = "2026-11-25T10:00:06Z", "2026-11-25T10:00:10Z"
        for vendor, tz in [("hikvision", None), ("kbvision", "+07:00")]:
            out = tmp_path / f"{vendor}.mp4"
            r = camwire.fetch(base, t1, t2, out, vendor=vendor, device_tz=tz,
                              user=USER, password=PASSWORD)
            assert r.frames == 100, vendor
            assert frame_digests(out) == source[150:250], vendor
            o = r.manifest["origin"]
            assert o["kind"] == "vendor-playback" and o["times_from"] == "rtp"
            assert o["vendor"] == ("hikvision" if vendor == "hikvision" else "dahua")
            no_secret(r.manifest_path.read_text(), repr(r))
            assert camwire.verify(out).ok
        # Dahua URLs carry local time: without the device's zone, a clear error.
        with pytest.raises(camwire.InvalidInput, match="time zone"):
            camwire.fetch(base, t1, t2, tmp_path / "d.mp4", vendor="dahua")
        with pytest.raises(camwire.InvalidInput):
            camwire.fetch(base, t1, t2, tmp_path / "x.mp4", vendor="acme")
        with pytest.raises(camwire.InvalidInput):
            camwire.fetch(base, t1, t2, tmp_path / "x.mp4", vendor="dahua", device_tz="Mars")
        assert not (tmp_path / "d.mp4").exists() and not (tmp_path / "x.mp4").exists()
    finally:
        s.stop()

