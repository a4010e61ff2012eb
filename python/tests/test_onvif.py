"""ONVIF against the simulated camera's ONVIF face: discovery, device info, profiles,
snapshot, events."""

from __future__ import annotations

import subprocess
import urllib.parse
from pathlib import Path

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


def test_onvif_over_https_needs_an_explicit_certificate_policy(
    sim: camwire.sim.SimCamera, tmp_path: Path
) -> None:
    """The sim behind an OpenSSL TLS proxy with a self-signed certificate (core's test
    support scripts): refused by default, accepted with its pinned fingerprint or the
    explicit opt-in; a site CA verifies a leaf it signed."""
    support = Path(__file__).resolve().parents[2] / "core" / "tests" / "support"
    subprocess.run(["bash", str(support / "make_test_certs.sh"), str(tmp_path)], check=True)
    upstream = urllib.parse.urlsplit(sim.xaddr)

    procs: list[subprocess.Popen[str]] = []

    def proxy(cert: str) -> str:
        """Starts the proxy with `cert`; returns its https XAddr."""
        p = subprocess.Popen(
            ["/usr/bin/python3", str(support / "tls_proxy.py"),
             str(tmp_path / f"{cert}.pem"), str(tmp_path / f"{cert}.key"),
             "127.0.0.2", f"127.0.0.1:{upstream.port}"],
            stdout=subprocess.PIPE, text=True,
        )
        procs.append(p)
        assert p.stdout is not None
        port = p.stdout.readline().split()[1]
        return f"https://127.0.0.2:{port}/onvif/device_service"

    fp = subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "ss.pem"), "-noout", "-fingerprint", "-sha256"],
        check=True, capture_output=True, text=True,
    ).stdout.strip().split("=")[-1]
    ss = proxy("ss")
    ok = proxy("ok")
    try:
        with pytest.raises(camwire.ConnectionError, match="TLS"):
            camwire.OnvifDevice(ss)
        dev = camwire.OnvifDevice(ss, tls_pin=fp)
        assert dev.info().model and len(dev.profiles()) == 1
        assert camwire.OnvifDevice(ss, tls_accept_any=True).info().model
        ca = tmp_path / "ca.pem"
        assert camwire.OnvifDevice(ok, tls_ca=ca).info().model
        with pytest.raises(camwire.InvalidInput):
            camwire.OnvifDevice(ss, tls_pin=fp, tls_accept_any=True)
    finally:
        for p in procs:
            p.kill()
            p.wait()
