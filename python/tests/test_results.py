"""Results behave like the Python types they look like: `Listing` is a
`collections.abc.Sequence` of `Range`, and every result record has a dataclass-like `repr`
and value `==` (and `hash` when all its fields are hashable), as the stubs say."""

from __future__ import annotations

import ast
import collections.abc
import datetime as dt
import pathlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

import camwire

STUB = pathlib.Path(camwire.__file__).with_name("_camwire.pyi")


def assert_record_repr(obj: object, fields: list[str]) -> None:
    """`repr(obj)` is `Name(field=repr(value), ...)` over `fields`, in order."""
    shown = ", ".join(f"{f}={getattr(obj, f)!r}" for f in fields)
    assert repr(obj) == f"{type(obj).__name__}({shown})"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, list[camwire.RecorderEvent]]:
    """A root where camera "cam" was recorded twice, with a hole in between: two ranges, one
    gap."""
    root = tmp_path_factory.mktemp("results") / "rec"
    events: list[camwire.RecorderEvent] = []
    with camwire.sim.SimCamera() as cam, camwire.Recorder(root) as rec:
        feed = rec.events(timeout=0.1)
        for _ in range(2):
            rec.add_camera("cam", cam.rtsp_url)
            time.sleep(2.5)
            assert rec.remove_camera("cam") is not None
            events.extend(feed)
            time.sleep(1.5)
    return root, events


@pytest.fixture
def listing(recording: tuple[pathlib.Path, list[camwire.RecorderEvent]]) -> camwire.Listing:
    return camwire.ranges(recording[0], "cam")


def test_listing_is_a_sequence(listing: camwire.Listing) -> None:
    assert isinstance(listing, collections.abc.Sequence)
    assert isinstance(listing, collections.abc.Reversible)
    assert len(listing) == 2, listing
    first, second = listing.ranges
    assert first.end < second.start

    # Indexing, negative indices, slices (a list).
    assert listing[0] == first and listing[1] == second
    assert listing[-1] == second and listing[-2] == first
    assert listing[1:] == [second]
    assert listing[:] == [first, second]
    assert listing[::-1] == [second, first]
    assert listing[5:] == []
    assert type(listing[0:1]) is list
    with pytest.raises(IndexError):
        listing[2]
    with pytest.raises(IndexError):
        listing[-3]
    with pytest.raises(TypeError):
        listing["0"]  # type: ignore[call-overload]

    # Iteration, reversed, in, index, count.
    assert list(listing) == [first, second]
    assert list(reversed(listing)) == [second, first]
    assert first in listing and (first.start, first.end) in listing
    assert (first.start, second.end) not in listing
    assert listing.index(second) == 1 and listing.count(first) == 1
    with pytest.raises(ValueError):
        listing.index((first.start, second.end))
    assert bool(listing)

    # The attribute form still works, and hands out a copy: the listing cannot be changed.
    rs = listing.ranges
    rs.clear()
    assert len(listing) == 2 and listing.ranges == [first, second]


def test_range_is_a_named_tuple(listing: camwire.Listing) -> None:
    r = listing[0]
    assert isinstance(r, camwire.Range) and isinstance(r, tuple)
    start, end = r
    assert (start, end) == r == (r.start, r.end)
    assert start.tzinfo is not None and end > start
    assert r.duration == (end - start).total_seconds()
    assert 1.5 < r.duration < 3.5, r
    assert repr(r) == f"Range(start={start!r}, end={end!r})"
    assert eval(repr(r), {"Range": camwire.Range, "datetime": dt}) == r
    assert hash(r) == hash(camwire.Range(start, end))


def test_listing_gaps_and_equality(recording: tuple[pathlib.Path, list[camwire.RecorderEvent]], listing: camwire.Listing) -> None:
    (gap,) = listing.gaps
    assert isinstance(gap, camwire.Gap)
    assert gap.start == listing[0].end and gap.end == listing[1].start
    assert 0.5 < gap.duration < 3.0, gap
    assert_record_repr(gap, ["start", "end", "duration", "reason"])

    again = camwire.ranges(recording[0], "cam")
    assert again is not listing and again == listing
    assert again.gaps[0] == gap and again.gaps[0] is not gap
    assert hash(again.gaps[0]) == hash(gap)
    assert {gap, again.gaps[0]} == {gap}
    # A window around the first range only: a different listing.
    first_only = camwire.ranges(recording[0], "cam", end=listing[0].end)
    assert len(first_only) == 1 and first_only[0] == listing[0]
    assert first_only != listing
    assert listing != list(listing)  # a Listing is not a list, like a tuple is not one
    assert_record_repr(listing, ["camera", "ranges", "gaps"])
    assert repr(listing).startswith("Listing(camera='cam', ranges=[Range(start=datetime.datetime(")
    with pytest.raises(TypeError):
        hash(listing)


def test_export_and_verify_results(recording: tuple[pathlib.Path, list[camwire.RecorderEvent]], listing: camwire.Listing, tmp_path: pathlib.Path) -> None:
    root = recording[0]
    r = listing[-1]
    a = camwire.export(root, "cam", r.start, r.end, tmp_path / "a.mp4")
    b = camwire.export(root, "cam", r.start, r.end, tmp_path / "b.mp4")
    fields = ["path", "manifest_path", "start", "end", "frames", "gaps", "sha256", "media_sha256", "size", "container", "sources"]
    assert_record_repr(a, fields)
    assert "manifest=" not in repr(a)  # the dict is in .manifest, not in the repr
    assert a == a and a != b  # different files
    assert a.media_sha256 == b.media_sha256
    with pytest.raises(TypeError):
        hash(a)

    va, va2, vb = camwire.verify(a.path), camwire.verify(a.path), camwire.verify(b.path)
    assert va.ok and va == va2 and va is not va2 and va != vb
    assert_record_repr(va, ["ok", "problems", "missing_sources", "path", "manifest_path"])
    assert repr(va).startswith("VerifyResult(ok=True, problems=[], missing_sources=[], path=PosixPath(")
    assert va != "VerifyResult"  # other types compare unequal, not raise


def test_recorder_events(recording: tuple[pathlib.Path, list[camwire.RecorderEvent]]) -> None:
    events = recording[1]
    connected = [e for e in events if e.kind == "connected"]
    assert len(connected) == 2, events
    c = connected[0]
    assert_record_repr(c, ["camera", "kind", "reason", "message", "path", "start", "end", "frames", "bytes"])
    assert c == connected[1] and hash(c) == hash(connected[1])  # same camera, same kind, no detail
    assert all(e != c for e in events if e.kind != "connected")


def test_onvif_records(sim: camwire.sim.SimCamera) -> None:
    dev = camwire.OnvifDevice(sim.xaddr)
    info, info2 = dev.info(), dev.info()
    assert info == info2 and info is not info2 and hash(info) == hash(info2)
    assert_record_repr(info, ["manufacturer", "model", "firmware_version", "serial_number", "hardware_id"])

    profiles, again = dev.profiles(), dev.profiles()
    assert profiles == again and len(set(profiles + again)) == len(profiles)
    p = profiles[0]
    assert_record_repr(p, ["token", "name", "encoding", "width", "height", "fps", "bitrate_kbps", "stream_uri", "snapshot_uri"])
    assert repr(p).startswith(f"Profile(token={p.token!r}, name={p.name!r}, encoding='H264', width=640, height=360")
    assert p != info

    assert sim.discovery_addr
    (d,) = camwire.discover(2.0, host=sim.discovery_addr)
    (d2,) = camwire.discover(2.0, host=sim.discovery_addr)
    assert d == d2 and d is not d2
    fields = ["endpoint", "xaddr", "xaddrs", "name", "hardware", "location", "scopes", "types", "profiles", "source"]
    assert_record_repr(d, fields)
    with pytest.raises(TypeError):
        hash(d)


def test_stream_records(sim: camwire.sim.SimCamera) -> None:
    with camwire.Stream(sim.rtsp_url) as s1, camwire.Stream(sim.rtsp_url) as s2:
        assert s1.info == s2.info and hash(s1.info) == hash(s2.info)
        assert_record_repr(
            s1.info, ["codec", "profile", "profile_idc", "level_idc", "width", "height", "fps", "transport", "from_sdp", "avcc"]
        )
        f1, f2 = next(s1), next(s1)
        assert f1 == f1 and f1 != f2
        assert_record_repr(
            f1, ["track", "kind", "codec", "pts", "dts", "keyframe", "loss", "size", "wallclock", "format"]
        )
        tracks = s1.info.tracks
        assert tracks == s2.info.tracks and hash(tracks) == hash(s2.info.tracks)
        assert_record_repr(
            tracks[0],
            ["track", "kind", "media", "encoding", "codec", "clock_rate", "channels", "skipped", "config"],
        )
        with pytest.raises(TypeError):
            hash(f1)


def _stub_classes() -> dict[str, ast.ClassDef]:
    tree = ast.parse(STUB.read_text())
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


RECORDS = [
    "StreamInfo",
    "StreamTrack",
    "Frame",
    "DiscoveredDevice",
    "DeviceInfo",
    "Profile",
    "Event",
    "RecorderEvent",
    "Gap",
    "Listing",
    "ExportResult",
    "VerifyResult",
]


@pytest.mark.parametrize("name", RECORDS)
def test_stubs_match_runtime_equality_and_hash(name: str) -> None:
    """What the stub says about ==, hash and repr is what the class does."""
    cls: Any = getattr(camwire, name)
    stub = _stub_classes()[name]
    methods = {n.name for n in stub.body if isinstance(n, ast.FunctionDef)}
    unhashable = any(
        isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.target.id == "__hash__" for n in stub.body
    )
    assert "__eq__" in methods and cls.__eq__ is not object.__eq__
    assert cls.__repr__ is not object.__repr__
    if unhashable:
        assert cls.__hash__ is None
    else:
        assert "__hash__" in methods and cls.__hash__ is not None and cls.__hash__ is not object.__hash__


def test_stub_says_listing_is_a_sequence() -> None:
    listing = _stub_classes()["Listing"]
    assert [ast.unparse(b) for b in listing.bases] == ["Sequence[Range]"]
    overloads = [
        ast.unparse(n.returns)
        for n in listing.body
        if isinstance(n, ast.FunctionDef) and n.name == "__getitem__" and n.returns is not None
    ]
    assert overloads == ["Range", "list[Range]"]
    assert issubclass(camwire.Listing, collections.abc.Sequence)


def _iter_typed(listing: camwire.Listing) -> Iterator[dt.datetime]:
    # mypy --strict checks that the stubs give these the right types.
    r: camwire.Range = listing[0]
    tail: list[camwire.Range] = listing[1:]
    seq: collections.abc.Sequence[camwire.Range] = listing
    yield r.start
    for x in tail:
        yield x.end
    yield seq[-1].end
