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
