"""Shared fixtures: simulated cameras served from this process."""

from __future__ import annotations

import ctypes
import socket
import threading
from collections.abc import Callable, Iterator

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
