"""The acceptance path as a new user would take it: start the simulated camera, discover it,
record 20 s, export 5 s from the middle, verify the clip, decode it with PyAV and count."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import time

import av
import pytest

import camwire


def test_discover_record_export_verify_decode(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "rec"
    with camwire.sim.SimCamera() as cam:
        # Find it the way a camera on the LAN is found, then ask it for its stream.
        assert cam.discovery_addr
        found = [d for d in camwire.discover(2.0, host=cam.discovery_addr) if d.xaddr]
        assert len(found) == 1
        xaddr = found[0].xaddr
        assert xaddr is not None
        device = camwire.OnvifDevice(xaddr)
        url = device.stream_uri()

        with camwire.Recorder(root, segment_secs=8) as rec:
            events = rec.events(timeout=0.2)
            rec.add_camera("sim", url)
            t0 = time.monotonic()
            seen: list[camwire.RecorderEvent] = []
            while time.monotonic() - t0 < 20.5:
                seen.extend(events)
            status = rec.status()["sim"]
            assert status["state"] == "recording"
            assert status["frames"] >= 20 * 25 - 25
            assert status["lost_packets"] == 0
        assert any(e.kind == "connected" for e in seen)
        assert any(e.kind == "segment_closed" for e in seen)

    listing = camwire.ranges(root, "sim")
    assert camwire.cameras(root) == ["sim"]
    assert len(listing.ranges) == 1, listing.gaps
    start, end = listing.ranges[0]
    assert start.tzinfo is not None
    assert 19.0 <= (end - start).total_seconds() <= 21.5

    middle = start + (end - start) / 2
    clip_start = middle - dt.timedelta(seconds=2.5)
    clip_end = middle + dt.timedelta(seconds=2.5)
    out = tmp_path / "clip.mp4"
    result = camwire.export(root, "sim", clip_start, clip_end, out)
    assert result.path == out
    assert out.exists() and result.manifest_path.exists()
    assert result.container == "progressive"
    assert abs((result.start - clip_start).total_seconds()) < 0.05
    assert abs((result.end - clip_end).total_seconds()) < 0.05
    assert result.gaps == []
    assert len(result.sha256) == 64
    assert json.loads(result.manifest_path.read_text()) == result.manifest
    assert result.manifest["output"]["sha256"] == result.sha256

    check = camwire.verify(out)
    assert check.ok, check.problems
    assert check.problems == []

    with av.open(str(out)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert abs(decoded - 125) <= 1, decoded
    # The manifest counts exactly the frames a player presents.
    assert result.frames == decoded, (result.frames, decoded)

    # An export never overwrites evidence; a tampered clip fails verification.
    with pytest.raises(camwire.InvalidInput):
        camwire.export(root, "sim", clip_start, clip_end, out)
    data = bytearray(out.read_bytes())
    data[-100] ^= 0xFF
    out.write_bytes(bytes(data))
    bad = camwire.verify(out)
    assert not bad.ok and bad.problems


def test_fragmented_export_and_time_forms(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "rec"
    with camwire.sim.SimCamera() as cam, camwire.Recorder(root) as rec:
        rec.add_camera("cam", cam.rtsp_url)
        time.sleep(4.5)
        final = rec.remove_camera("cam")
        assert final is not None and final["frames"] > 50
        assert rec.remove_camera("cam") is None
    (start, end), *_ = camwire.ranges(root, "cam").ranges
    # ISO strings and Unix timestamps are accepted as well as datetimes.
    a = (start + dt.timedelta(seconds=1)).isoformat()
    b = (start + dt.timedelta(seconds=3)).timestamp()
    result = camwire.export(root, "cam", a, b, tmp_path / "frag.mp4", fragmented=True)
    assert result.container == "fragmented"
    # Fragmented clips have no edit list to trim the last frame: whole frames, within 2.
    assert 50 <= result.frames <= 52, result.frames
    assert camwire.verify(result.path)
    with pytest.raises(camwire.InvalidInput):
        camwire.export(root, "nope", a, b, tmp_path / "x.mp4")
    with pytest.raises(camwire.InvalidInput):
        camwire.ranges(root, "../etc")
    with pytest.raises(camwire.InvalidInput):
        camwire.Recorder(root).add_camera("bad/id", "rtsp://127.0.0.1/x")
