"""A simulated H.264 IP camera (RTSP, 25 fps) served from this process, for tests and demos."""

from ._camwire import SimCamera

__all__ = ["SimCamera"]
