"""Live frames: iteration, times, zero-copy payloads, async iteration, cleanup."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
from collections.abc import Callable

import pytest

import camwire


def wait_until(cond: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(cond) and cond():
            return True
        time.sleep(0.05)
    return False


def test_iterates_frames_keyframe_first_pts_steps(fast_sim: camwire.sim.SimCamera) -> None:
    with camwire.Stream(fast_sim.rtsp_url) as stream:
        info = stream.info
        assert info.codec.startswith("avc1.")
        assert (info.width, info.height) == (640, 360)
        assert info.fps == 25
        assert info.avcc[0] == 1  # configurationVersion
        frames = []
        for frame in stream:
            frames.append(frame)
            if len(frames) == 100:
                break
    assert frames[0].keyframe
    steps = {b.pts - a.pts for a, b in zip(frames, frames[1:])}
    assert steps == {3600}
    assert all(f.dts == f.pts for f in frames)
    assert all(f.loss == 0 for f in frames)
    assert any(f.keyframe for f in frames[1:])
    walls = [f.wallclock for f in frames]
    assert all(w.tzinfo is not None and w.utcoffset().total_seconds() == 0 for w in walls)  # type: ignore[union-attr]
    # (Unpaced, the RTP clock runs ahead of real time, so no ordering claim here.)
    now = time.time()
    assert all(abs(w.timestamp() - now) < 120 for w in walls)
    assert abs(frames[0].timestamp - walls[0].timestamp()) < 1e-3


def test_frame_data_is_zero_copy_memoryview(
    fast_sim: camwire.sim.SimCamera, buffer_address: Callable[[object], int]
) -> None:
    with camwire.Stream(fast_sim.rtsp_url) as stream:
        frame = next(iter(stream))
    data = frame.data
    assert isinstance(data, memoryview)
    assert data.readonly
    assert memoryview(frame.data).readonly
    assert frame.data is data  # the same view on every access
    assert isinstance(data.obj, camwire.FrameBuffer)
    addr = buffer_address(data)
    assert addr == buffer_address(frame.data) == buffer_address(data.obj)
    assert addr == buffer_address(memoryview(frame.data))
    assert addr != buffer_address(bytes(frame.data))  # a real copy lives elsewhere
    assert len(data) == len(frame) == frame.size
    # AVC: 4-byte big-endian length, then the NAL unit (SPS first in a keyframe).
    first_len = int.from_bytes(data[:4], "big")
    assert 0 < first_len < len(data)
    assert data[4] & 0x1F == 7
    with pytest.raises(TypeError):
        data[0] = 0
    # The view keeps the Rust buffer alive after the frame is gone.
    copy = bytes(data)
    del frame
    gc.collect()
    assert bytes(data) == copy


def test_annexb_format(fast_sim: camwire.sim.SimCamera) -> None:
    with camwire.Stream(fast_sim.rtsp_url, format="annexb") as stream:
        assert stream.format == "annexb"
        frame = next(iter(stream))
    assert frame.format == "annexb"
    assert bytes(frame.data[:4]) == b"\x00\x00\x00\x01"
    assert frame.data[4] & 0x1F == 7


def test_read_and_stats(fast_sim: camwire.sim.SimCamera) -> None:
    with camwire.Stream(fast_sim.rtsp_url) as stream:
        frames = [stream.read() for _ in range(10)]
        stats = stream.stats()
    assert all(f is not None for f in frames)
    assert stats["access_units"] >= 10
    assert stats["lost_packets"] == 0


def test_stream_ends_when_camera_ends() -> None:
    with camwire.sim.SimCamera(realtime=False, max_duration=2.0) as cam:
        with camwire.Stream(cam.rtsp_url) as stream:
            n = sum(1 for _ in stream)
            assert stream.read() is None
    assert n == 50


def test_async_iteration(fast_sim: camwire.sim.SimCamera) -> None:
    async def main() -> list[camwire.Frame]:
        out = []
        with camwire.Stream(fast_sim.rtsp_url) as stream:
            async for frame in stream:
                out.append(frame)
                if len(out) == 30:
                    break
        return out

    frames = asyncio.run(main())
    assert frames[0].keyframe
    assert {b.pts - a.pts for a, b in zip(frames, frames[1:])} == {3600}


def test_async_connect_and_async_with(fast_sim: camwire.sim.SimCamera) -> None:
    async def main() -> tuple[int, bool]:
        async with await camwire.Stream.connect(fast_sim.rtsp_url) as stream:
            n = 0
            async for frame in stream:
                assert isinstance(frame, camwire.Frame)
                n += 1
                if n == 10:
                    break
        return n, stream.closed

    assert asyncio.run(main()) == (10, True)


def test_async_connect_does_not_block_the_event_loop() -> None:
    """A server that accepts and never answers: while connect waits for its timeout, the loop
    keeps running other tasks (the constructor would block it for the whole second)."""
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        url = f"rtsp://127.0.0.1:{mute.getsockname()[1]}/stream"

        async def main() -> int:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            t = asyncio.create_task(ticker())
            with pytest.raises(camwire.TimeoutError):
                await camwire.Stream.connect(url, timeout=1.0)
            t.cancel()
            return ticks

        assert asyncio.run(main()) >= 30


def test_async_iteration_cancel_is_clean(sim: camwire.sim.SimCamera) -> None:
    async def main() -> None:
        with camwire.Stream(sim.rtsp_url) as stream:
            it = stream.__anext__()
            await asyncio.sleep(0)
            it.cancel()
            # The stream is still usable after a cancelled read.
            frame = await stream.__anext__()
            assert frame.pts > 0

    asyncio.run(asyncio.wait_for(main(), 20))


def test_close_and_abandon_tear_down(sim: camwire.sim.SimCamera) -> None:
    stream = camwire.Stream(sim.rtsp_url)
    next(iter(stream))
    assert wait_until(lambda: sim.stats()["active_sessions"] == 1)
    stream.close()
    assert stream.closed
    assert wait_until(lambda: sim.stats()["active_sessions"] == 0)
    with pytest.raises(camwire.CamwireError):
        stream.read()
    stream.close()  # idempotent

    # An abandoned iterator: the session goes away with the object.
    def abandon() -> None:
        s = camwire.Stream(sim.rtsp_url)
        for _ in s:
            break

    abandon()
    gc.collect()
    assert wait_until(lambda: sim.stats()["active_sessions"] == 0)


def test_credentials(sim: camwire.sim.SimCamera) -> None:
    with camwire.sim.SimCamera(user="admin", password="pw") as cam:
        assert cam.user == "admin"
        assert "pw" not in cam.rtsp_url
        with camwire.Stream(cam.rtsp_url, user="admin", password="pw") as stream:
            assert next(iter(stream)).keyframe
