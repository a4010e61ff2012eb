"""examples/deploy/shard.py: every camera lands on exactly one node, shards parse as the
recorder's TOML, and growing the cluster moves only the cameras the new node takes."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys
import tomllib
from types import ModuleType

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "examples" / "deploy" / "shard.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shard", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cameras(n: int) -> dict[str, object]:
    return {
        "segment_secs": 60,
        "camera": [{"id": f"cam-{i:05}", "url": f"rtsp://10.1.{i // 250}.{i % 250}/s1"} for i in range(n)],
    }


def placement(shard: ModuleType, nodes: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for node, text in enumerate(shard.shard(cameras(1000), nodes)):
        parsed = tomllib.loads(text)
        assert parsed["segment_secs"] == 60
        for cam in parsed.get("camera", []):
            assert cam["id"] not in out
            out[cam["id"]] = node
    return out


def test_every_camera_once_and_growth_moves_about_one_in_n() -> None:
    shard = load()
    four, five = placement(shard, 4), placement(shard, 5)
    assert len(four) == len(five) == 1000
    counts = [list(four.values()).count(n) for n in range(4)]
    assert min(counts) > 180, counts  # roughly balanced (250 each)
    moved = [c for c in four if four[c] != five[c]]
    # Only cameras the new node takes move, about 1/5 of them.
    assert all(five[c] == 4 for c in moved)
    assert 140 < len(moved) < 260, len(moved)


def test_configmap_output_holds_one_toml_per_node(tmp_path: pathlib.Path) -> None:
    src = tmp_path / "cams.toml"
    src.write_text('transport = "tcp"\n[[camera]]\nid = "gate"\nurl = "rtsp://10.0.0.5/s"\npassword = "p\\"w"\n')
    out = subprocess.run(
        [sys.executable, str(SCRIPT), str(src), "--nodes", "2", "--out-dir", str(tmp_path / "s")],
        check=True,
        capture_output=True,
        text=True,
    )
    assert out.stdout == ""
    shards = [tomllib.loads((tmp_path / "s" / f"shard-{i}.toml").read_text()) for i in range(2)]
    cams = [c for s in shards for c in s.get("camera", [])]
    assert cams == [{"id": "gate", "url": "rtsp://10.0.0.5/s", "password": 'p"w'}]
    assert all(s["transport"] == "tcp" for s in shards)
