"""Audio frames and the track list through Python (issue 12): ``Stream(audio=...)``,
``Frame.track/kind/codec/clock_rate/samples`` and ``StreamInfo.tracks``.

The peer is GStreamer's RTSP server (``examples/tests/support/gst_rtsp_server.py --audio``,
run with the system ``/usr/bin/python3``, which has the GStreamer bindings) serving a 6 s
H.264 clip with the file's own audio track sent as stored (mu-law 8 kHz or AAC-LC 16 kHz), a
new pipeline from the clip's start per session: camwire's frames are compared one by one
with the packets ffmpeg reads from the same server.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import camwire

REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "examples" / "tests" / "support" / "gst_rtsp_server.py"

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or not Path("/usr/bin/python3").exists(),
    reason="needs ffmpeg and the system python3 with GStreamer's RTSP server",
)


def make_clip(out: Path, rate: int, codec: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={rate}", "-t", "6",
         "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "50",
         "-pix_fmt", "yuv420p", "-c:a", codec, "-ac", "1", str(out)],
        check=True,
    )
    return out


class Server:
    def __init__(self, clip: Path, audio: str) -> None:
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(SERVER), str(clip), "--audio", audio],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("READY "), f"server did not start: {line!r}"
        self.url = line.split()[1]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def pcmu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # ffmpeg's mp4 muxer refuses mu-law: a .mov, which the server's qtdemux reads.
    clip = make_clip(tmp_path_factory.mktemp("pcmu") / "src.mov", 8000, "pcm_mulaw")
    s = Server(clip, "pcmu")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def aac(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    clip = make_clip(tmp_path_factory.mktemp("aac") / "src.mp4", 16000, "aac")
    s = Server(clip, "aac")
    yield s
    s.stop()


def ffmpeg_packets(url: str) -> list[tuple[int, int, str]]:
    """(duration, size, sha256) of each audio packet ffmpeg reads (stream copy)."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", url, "-map", "0:a",
         "-c", "copy", "-f", "framehash", "-hash", "sha256", "-"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    rows = []
    for line in out.splitlines():
        if line.startswith("#"):
            continue
        f = [x.strip() for x in line.split(",")]
        rows.append((int(f[3]), int(f[4]), f[5]))
    return rows


@pytest.mark.parametrize(
    ("which", "codec", "entry", "rate"),
    [("pcmu", "pcmu", "ulaw", 8000), ("aac", "aac", "mp4a.40.2", 16000)],
)
def test_audio_frames_equal_ffmpegs_packets(
    which: str, codec: str, entry: str, rate: int, request: pytest.FixtureRequest
) -> None:
    server: Server = request.getfixturevalue(which)
    theirs = ffmpeg_packets(server.url)
    with camwire.Stream(server.url, audio="first") as stream:
        tracks = stream.info.tracks
        frames = list(stream)
    assert [t.track for t in tracks] == [0, 1]
    video, audio = tracks
    assert (video.kind, video.encoding, video.skipped) == ("video", "H264", None)
    assert video.codec == stream.info.codec and video.config == stream.info.avcc
    assert (audio.kind, audio.codec, audio.clock_rate, audio.channels) == ("audio", entry, rate, 1)
    assert audio.skipped is None
    if codec == "aac":
        assert audio.config[:2] == bytes([0x14, 0x08])  # AAC-LC, 16 kHz, mono
    else:
        assert audio.config == b""
    assert hash(audio) == hash(tracks[1]) and audio == tracks[1]

    pictures = [f for f in frames if f.kind == "video"]
    sound = [f for f in frames if f.kind == "audio"]
    assert len(pictures) == 150
    assert all((f.track, f.codec, f.clock_rate, f.samples) == (0, "h264", 90000, 0)
               for f in pictures)
    assert all((f.track, f.codec, f.clock_rate) == (1, codec, rate) for f in sound)
    assert all(f.keyframe and f.loss == 0 and f.dts == f.pts for f in sound)
    # Byte for byte what ffmpeg reads, frame for frame (the very end may differ by a packet
    # or two: the video's BYE ends camwire's stream).
    ours = [(f.samples, f.size, hashlib.sha256(f.data).hexdigest()) for f in sound]
    assert abs(len(ours) - len(theirs)) <= 3 and len(ours) > 40, (len(ours), len(theirs))
    n = min(len(ours), len(theirs))
    assert ours[:n] == theirs[:n]
    # pts advance by the samples; wall-clock steps follow them (a sender report may move
    # one step by a few ms).
    for a, b in zip(sound, sound[1:]):
        assert b.pts - a.pts == a.samples
        assert abs((b.timestamp - a.timestamp) - a.samples / rate) < 0.05
    assert abs(sound[0].timestamp - pictures[0].timestamp) < 0.2
    assert "kind='audio'" in repr(sound[0]) and f"codec='{codec}'" in repr(sound[0])


def test_default_stream_yields_pictures_only(pcmu: Server) -> None:
    with camwire.Stream(pcmu.url) as stream:
        tracks = stream.info.tracks
        kinds = {f.kind for f in stream}
    assert kinds == {"video"}
    assert tracks[1].track is None and tracks[1].kind == "audio"
    assert tracks[1].skipped is not None and "not requested" in tracks[1].skipped


def test_unknown_audio_choice_is_invalid_input(pcmu: Server) -> None:
    with pytest.raises(camwire.InvalidInput):
        camwire.Stream(pcmu.url, audio="some")  # type: ignore[arg-type]
