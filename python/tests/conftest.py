"""Shared fixtures: simulated cameras served from this process."""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import camwire


@pytest.fixture
def sim() -> Iterator[camwire.sim.SimCamera]:
    """A realtime (25 fps) looping simulated camera."""
    with camwire.sim.SimCamera() as cam:
        yield cam


@pytest.fixture
def fast_sim() -> Iterator[camwire.sim.SimCamera]:
    """An unpaced simulated camera: frames as fast as the socket takes them."""
    with camwire.sim.SimCamera(realtime=False) as cam:
        yield cam


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: an RTSP URL for it."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                held.append(conn)
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"rtsp://127.0.0.1:{srv.getsockname()[1]}/stream"
    stop.set()
    t.join()
    for c in held:
        c.close()
    srv.close()


@pytest.fixture
def closed_url() -> str:
    """An RTSP URL on a local port with nothing listening on it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return f"rtsp://127.0.0.1:{port}/stream"


class _PyBuffer(ctypes.Structure):
    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.c_void_p),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.c_void_p),
        ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p),
        ("internal", ctypes.c_void_p),
    ]


def _buffer_address(obj: object) -> int:
    """The address of the memory an object exports through the buffer protocol."""
    view = _PyBuffer()
    get = ctypes.pythonapi.PyObject_GetBuffer
    get.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
    get.restype = ctypes.c_int
    release = ctypes.pythonapi.PyBuffer_Release
    release.argtypes = [ctypes.POINTER(_PyBuffer)]
    release.restype = None
    if get(obj, ctypes.byref(view), 0) != 0:
        raise BufferError("no buffer")
    try:
        assert view.buf is not None
        return int(view.buf)
    finally:
        release(ctypes.byref(view))


@pytest.fixture
def buffer_address() -> Callable[[object], int]:
    """The address of the memory an object exports through the buffer protocol (ctypes)."""
    return _buffer_address


S3_KEY = "AKCAMWIREPY"
S3_SECRET = "SKcamwire/python+secret"


@pytest.fixture
def s3s_fs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real S3 server (s3s-fs, installed by .ci/run) on loopback with a bucket ``camwire``:
    yields (endpoint URL, the directory it stores objects in, one file per object)."""
    exe = os.environ.get("CAMWIRE_S3S_FS") or shutil.which("s3s-fs")
    if exe is None:
        exe = str(Path.home() / ".cargo" / "bin" / "s3s-fs")
    data = tmp_path_factory.mktemp("s3")
    (data / "camwire").mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [exe, "--host", "127.0.0.1", "--port", str(port),
         "--access-key", S3_KEY, "--secret-key", S3_SECRET, str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "s3s-fs did not start"
                time.sleep(0.02)
        yield f"http://127.0.0.1:{port}", data
    finally:
        proc.kill()
        proc.wait()
