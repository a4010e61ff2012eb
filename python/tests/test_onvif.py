"""ONVIF against the simulated camera's ONVIF face: discovery, device info, profiles,
snapshot, events."""

from __future__ import annotations

import pytest

import camwire


def test_discover_by_unicast(sim: camwire.sim.SimCamera) -> None:
    assert sim.discovery_addr
    found = camwire.discover(2.0, host=sim.discovery_addr)
    assert [d.endpoint for d in found] == [sim.endpoint]
    dev = found[0]
    assert dev.xaddr == sim.xaddr
    assert sim.xaddr in dev.xaddrs
    assert any("NetworkVideoTransmitter" in t for t in dev.types)


def test_device_info_profiles_snapshot(sim: camwire.sim.SimCamera) -> None:
    dev = camwire.OnvifDevice(sim.xaddr)
    info = dev.info()
    assert info.manufacturer and info.model and info.serial_number
    profiles = dev.profiles()
    assert len(profiles) >= 1
    p = profiles[0]
    assert p.encoding and p.encoding.upper() == "H264"
    assert (p.width, p.height) == (640, 360)
    assert p.stream_uri == sim.rtsp_url
    assert dev.stream_uri() == sim.rtsp_url
    jpeg = dev.snapshot()
    assert jpeg[:2] == b"\xff\xd8"
    assert dev.snapshot(p.token) == jpeg
    assert dev.snapshot(p) == jpeg
    with pytest.raises(camwire.InvalidInput):
        dev.snapshot("no-such-profile")
    # The ONVIF stream URI plays.
    with camwire.Stream(dev.stream_uri()) as stream:
        assert next(iter(stream)).keyframe


def test_events(sim: camwire.sim.SimCamera) -> None:
    dev = camwire.OnvifDevice(sim.xaddr)
    with dev.events(duration=5.0) as events:
        got = []
        for ev in events:
            got.append(ev)
            if ev.kind == "motion":
                break
    assert any(e.kind == "motion" and e.active is not None for e in got), got


def test_onvif_auth() -> None:
    with camwire.sim.SimCamera(user="admin", password="pw") as cam:
        assert camwire.OnvifDevice(cam.xaddr, "admin", "pw").info().model
        with pytest.raises(camwire.AuthError):
            camwire.OnvifDevice(cam.xaddr, "admin", "nope").info()
