"""Recorder(upload=...) against a real S3 server (s3s-fs): every closed segment, the ones the
close itself ends included, lands in the bucket byte for byte, and credentials stay out of
every message."""

from __future__ import annotations

import hashlib
import pathlib
import time
from typing import Any

import pytest

import camwire
from conftest import S3_KEY, S3_SECRET


def sha(p: pathlib.Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_recorder_ships_every_segment_to_s3(
    tmp_path: pathlib.Path,
    sim: camwire.sim.SimCamera,
    s3s_fs: tuple[str, pathlib.Path],
) -> None:
    endpoint, data = s3s_fs
    root = tmp_path / "rec"
    storage: camwire.StorageOptions = {
        "endpoint": endpoint,
        "region": "us-east-1",
        "access_key_id": S3_KEY,
        "secret_access_key": S3_SECRET,
        "allow_http": True,
    }
    with camwire.Recorder(
        root, segment_secs=1, upload="s3://camwire/site-a", storage=storage
    ) as rec:
        rec.add_camera("cam", sim.rtsp_url)
        deadline = time.monotonic() + 20
        while rec.status()["cam"]["files"] < 3:
            assert time.monotonic() < deadline, rec.status()
            time.sleep(0.1)
        status = rec.upload_status()
        assert status is not None and status["target"] == "s3://camwire/site-a"
        assert S3_SECRET not in repr(status)
    local = {
        p.relative_to(root / "cam").as_posix(): sha(p) for p in sorted((root / "cam").rglob("*.mp4"))
    }
    stored = {
        p.relative_to(data / "camwire" / "site-a" / "cam").as_posix(): sha(p)
        for p in sorted((data / "camwire" / "site-a" / "cam").rglob("*.mp4"))
    }
    assert len(local) >= 3
    # The close waited for the backlog: the last segment (closed by the close) is there too.
    assert stored == local

    # Read back from the bucket: the same listing, and an export whose media hash equals the
    # local export's, verified against the objects; one flipped byte in an object fails it.
    s3_root = "s3://camwire/site-a"
    assert camwire.cameras(s3_root, storage=storage) == ["cam"]
    listing = camwire.ranges(s3_root, "cam", storage=storage)
    assert listing == camwire.ranges(root, "cam")
    start, end = listing.ranges[0]
    from_local = camwire.export(root, "cam", start, end, tmp_path / "local.mp4")
    from_s3 = camwire.export(s3_root, "cam", start, end, tmp_path / "s3.mp4", storage=storage)
    assert from_s3.frames == from_local.frames > 50
    assert from_s3.manifest["media_sha256"] == from_local.manifest["media_sha256"]
    for src in from_s3.manifest["sources"]:
        assert src["url"].startswith("s3://camwire/site-a/cam/") and src["etag"], src
    assert S3_SECRET not in from_s3.manifest_path.read_text()
    assert camwire.verify(tmp_path / "s3.mp4", storage=storage).ok
    victim = sorted((data / "camwire" / "site-a" / "cam").rglob("*.mp4"))[0]
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    victim.write_bytes(bytes(raw))
    bad = camwire.verify(tmp_path / "s3.mp4", storage=storage)
    assert not bad.ok
    assert any(victim.name in p for p in bad.problems), bad.problems


def test_wrong_credentials_are_an_error_without_the_secret(
    tmp_path: pathlib.Path,
    sim: camwire.sim.SimCamera,
    s3s_fs: tuple[str, pathlib.Path],
) -> None:
    endpoint, data = s3s_fs
    secret = "SKwrong/secret+value"
    with camwire.Recorder(
        tmp_path / "rec",
        segment_secs=1,
        upload="s3://camwire/x",
        storage={
            "endpoint": endpoint,
            "access_key_id": "AKWRONG",
            "secret_access_key": secret,
            "allow_http": True,
        },
    ) as rec:
        rec.add_camera("cam", sim.rtsp_url)
        deadline = time.monotonic() + 20
        while True:
            status = rec.upload_status()
            assert status is not None
            err = status["cameras"].get("cam", {}).get("last_error")
            if err:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        assert rec.status()["cam"]["state"] == "recording"
    assert secret not in err and "AKWRONG" not in err
    assert not any((data / "camwire").rglob("*.mp4"))


def test_storage_without_upload_and_unknown_keys_are_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(camwire.InvalidInput):
        camwire.Recorder(tmp_path, storage={"endpoint": "http://x"})
    with pytest.raises(camwire.InvalidInput, match="unknown storage key"):
        bad: Any = {"endpont": "http://x"}
        camwire.Recorder(tmp_path, upload="s3://b/p", storage=bad)
    with pytest.raises(camwire.InvalidInput):
        camwire.Recorder(tmp_path, upload="http://not-s3")
