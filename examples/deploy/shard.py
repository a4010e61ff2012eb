#!/usr/bin/env python3
"""Splits a camera list across N recorder nodes, one `camwire record` TOML per node, and
writes them as a Kubernetes ConfigMap (or as plain files with --out-dir).

Placement is rendezvous (highest-random-weight) hashing of the camera id: a camera's node
depends only on its id and N, so re-running the script after adding cameras moves none of
the old ones, and going from N to N+1 nodes moves only about 1/(N+1) of them. No coordinator:
the VMS (or whoever edits the camera list) re-runs this and applies the ConfigMap; each pod
records the shard named after its StatefulSet ordinal.

Input: a TOML file as `camwire record --config` takes it (defaults at the top, [[camera]]
tables with id and url). The defaults are copied into every shard. Python 3.11+ (tomllib).

    python3 shard.py cameras.toml --nodes 4 > configmap.yaml
    python3 shard.py cameras.toml --nodes 4 --out-dir shards/   # shard-0.toml ... shard-3.toml
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tomllib
from pathlib import Path
from typing import Any


def node_of(camera_id: str, nodes: int) -> int:
    """The node with the highest hash of (node, camera): rendezvous hashing."""
    def weight(n: int) -> int:
        return int.from_bytes(hashlib.sha256(f"{n}/{camera_id}".encode()).digest()[:8], "big")
    return max(range(nodes), key=weight)


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    raise SystemExit(f"unsupported value in the camera list: {v!r}")


def render(defaults: dict[str, Any], cameras: list[dict[str, Any]]) -> str:
    lines = [f"{k} = {toml_value(v)}" for k, v in defaults.items()]
    for cam in cameras:
        lines += ["", "[[camera]]"] + [f"{k} = {toml_value(v)}" for k, v in cam.items()]
    return "\n".join(lines) + "\n"


def shard(config: dict[str, Any], nodes: int) -> list[str]:
    cameras = config.get("camera", [])
    defaults = {k: v for k, v in config.items() if k != "camera"}
    ids = [c.get("id") for c in cameras]
    if any(not isinstance(i, str) or not i for i in ids):
        raise SystemExit("every [[camera]] needs an id")
    if len(set(ids)) != len(ids):
        raise SystemExit("camera ids must be unique")
    per_node: list[list[dict[str, Any]]] = [[] for _ in range(nodes)]
    for cam in sorted(cameras, key=lambda c: c["id"]):
        per_node[node_of(cam["id"], nodes)].append(cam)
    return [render(defaults, cams) for cams in per_node]


def configmap(name: str, shards: list[str], secret: bool) -> str:
    kind, field = ("Secret", "stringData") if secret else ("ConfigMap", "data")
    out = ["apiVersion: v1", f"kind: {kind}", "metadata:", f"  name: {name}", f"{field}:"]
    for i, text in enumerate(shards):
        out.append(f"  shard-{i}.toml: |")
        out += [f"    {line}" if line else "" for line in text.splitlines()]
    return "\n".join(out) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cameras", type=Path, help="camera list (camwire record --config TOML)")
    p.add_argument("--nodes", type=int, required=True, help="recorder nodes (StatefulSet replicas)")
    p.add_argument("--name", default="camwire-shards", help="ConfigMap name")
    p.add_argument("--out-dir", type=Path, help="write shard-N.toml files here instead")
    p.add_argument(
        "--secret",
        action="store_true",
        help="emit a Secret, not a ConfigMap (camera passwords in the list)",
    )
    a = p.parse_args()
    if a.nodes < 1:
        raise SystemExit("--nodes must be at least 1")
    shards = shard(tomllib.loads(a.cameras.read_text()), a.nodes)
    if a.out_dir:
        a.out_dir.mkdir(parents=True, exist_ok=True)
        for i, text in enumerate(shards):
            (a.out_dir / f"shard-{i}.toml").write_text(text)
    else:
        sys.stdout.write(configmap(a.name, shards, a.secret))


if __name__ == "__main__":
    main()
