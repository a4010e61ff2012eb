"""Exceptions: families, builtin bases, and prompt Ctrl-C."""

from __future__ import annotations

import _thread
import pathlib
import builtins
import threading
import time

import pytest

import camwire


def test_hierarchy() -> None:
    for cls in (
        camwire.ConnectionError,
        camwire.AuthError,
        camwire.TimeoutError,
        camwire.ProtocolError,
        camwire.InvalidInput,
    ):
        assert issubclass(cls, camwire.CamwireError)
        assert cls.__module__ == "camwire"
    assert issubclass(camwire.TimeoutError, builtins.TimeoutError)
    assert issubclass(camwire.ConnectionError, builtins.ConnectionError)
    assert issubclass(camwire.InvalidInput, ValueError)


def test_wrong_password_is_auth_error() -> None:
    with camwire.sim.SimCamera(user="admin", password="right") as cam:
        with pytest.raises(camwire.AuthError) as ei:
            camwire.Stream(cam.rtsp_url, user="admin", password="wrong", timeout=5)
        assert "wrong" not in str(ei.value)
        with pytest.raises(camwire.AuthError):
            camwire.Stream(cam.rtsp_url, timeout=5)


def test_unreachable_is_connection_error(closed_url: str) -> None:
    url = closed_url
    with pytest.raises(camwire.ConnectionError):
        camwire.Stream(url, timeout=5)
    with pytest.raises(builtins.ConnectionError):
        camwire.Stream(url, timeout=5)


def test_silent_server_is_timeout(silent_server: str) -> None:
    t0 = time.monotonic()
    with pytest.raises(camwire.TimeoutError):
        camwire.Stream(silent_server, timeout=0.5)
    assert time.monotonic() - t0 < 5
    with pytest.raises(TimeoutError):  # the builtin
        camwire.Stream(silent_server, timeout=0.3)


def test_invalid_input() -> None:
    with pytest.raises(camwire.InvalidInput):
        camwire.Stream("http://example.invalid/not-rtsp")
    with pytest.raises(camwire.InvalidInput):
        camwire.Stream("rtsp://127.0.0.1/x", transport="carrier-pigeon")  # type: ignore[arg-type]
    with pytest.raises(camwire.InvalidInput):
        camwire.Stream("rtsp://127.0.0.1/x", format="mjpeg")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        camwire.Stream("rtsp://127.0.0.1/x", timeout=-1)
    with pytest.raises(camwire.InvalidInput):
        camwire.Recorder("/tmp/x", fsync="sometimes")


def test_ctrl_c_interrupts_a_blocking_call(silent_server: str) -> None:
    # interrupt_main() is what a SIGINT does: the blocking call must notice within its slice.
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        camwire.Stream(silent_server, timeout=30)
    elapsed = time.monotonic() - t0
    timer.join()
    assert elapsed < 2.0, elapsed


def test_ctrl_c_interrupts_a_blocking_iteration(tmp_path: pathlib.Path) -> None:
    # A recorder with no camera sends no event: the iteration blocks until interrupted.
    with camwire.Recorder(str(tmp_path)) as rec:
        events = rec.events()
        timer = threading.Timer(0.3, _thread.interrupt_main)
        timer.start()
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            for _ in events:
                pass
        elapsed = time.monotonic() - t0
        timer.join()
    assert elapsed < 2.0, elapsed
