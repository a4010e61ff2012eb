#!/usr/bin/env python3
"""Builds the committed seed corpora under fuzz/corpus/<target>/ from the project's own test
data. Re-run after the test data changes; keep the output small (a few hundred KB in all).

- rtp_h264: interleaved frames of core/testdata/gst_1080p_capture.rtp in the target's raw mode
  (mode byte 1, then 2-byte length + packet), plus synthesized-header runs of the sim clip.
- h264_params: SPS, PPS, slice and avcC hex from core/src/h264/testdata.rs.
- fmp4_reader: fuzz/seeds/sim_clip_1s.mp4 (a 1 s `camwire demo` recording of the sim clip),
  its init segment alone, and a torn copy.
- onvif_xml: every raw-string XML document in core/src/onvif/*.rs, and the WS-Discovery
  corpus core/tests/fixtures/discovery/*.xml (as replies to the target's probe ID).
- sdp: the committed capture's SDP and a sim-style SDP.
- capture: the first packets of the committed capture.
"""
import glob
import hashlib
import os
import re
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))
CORE = os.path.join(ROOT, "..", "core")
OUT = os.path.join(ROOT, "corpus")


def put(target, data, name=None):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = name or hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def frames(buf):
    pos = 0
    while pos + 4 <= len(buf) and buf[pos] == 0x24:
        n = struct.unpack(">H", buf[pos + 2 : pos + 4])[0]
        yield buf[pos + 1], buf[pos + 4 : pos + 4 + n]
        pos += 4 + n


def annexb_nals(data):
    parts = re.split(b"\x00\x00\x01", data)
    return [p.rstrip(b"\x00") for p in parts if p.rstrip(b"\x00")]


capture = open(os.path.join(CORE, "testdata", "gst_1080p_capture.rtp"), "rb").read()
rtp = [(c, p) for c, p in frames(capture)]

# rtp_h264, raw mode: runs of small packets (parameter sets, slice starts, FU-A ends) so each
# seed stays a few KB; packets are cut to 300 bytes (FU-A pieces stay well formed in shape).
small = [p[:300] for c, p in rtp if c == 0][:400]
for i in range(0, 80, 10):
    put("rtp_h264", b"\x01" + b"".join(struct.pack(">H", len(p)) + p for p in small[i : i + 40]))

# rtp_h264, synthesized-header mode from the sim clip: single NALs (cut), STAP-A, FU-A.
clip = open(os.path.join(CORE, "testdata", "sim_clip.h264"), "rb").read()
nals = annexb_nals(clip)[:30]
def synth(payloads):
    out = b"\x02"
    for payload, marker, step in payloads:
        payload = payload[:255]
        out += bytes([len(payload), (1 if marker else 0) | 2, step]) + payload
    return out
single = [(n[:200], (n[0] & 0x1F) in (1, 5), 0 if (n[0] & 0x1F) in (7, 8) else 2) for n in nals]
put("rtp_h264", synth(single))
stap = b"\x18" + b"".join(struct.pack(">H", len(n)) + n for n in nals[:2])
fu = []
for n in nals[2:8]:
    body = n[1:121]
    chunks = [body[j : j + 40] for j in range(0, len(body), 40)] or [b""]
    for k, ch in enumerate(chunks):
        s = 0x80 if k == 0 else 0
        e = 0x40 if k == len(chunks) - 1 else 0
        fu.append((bytes([(n[0] & 0xE0) | 28, s | e | (n[0] & 0x1F)]) + ch, bool(e), 0 if k else 2))
put("rtp_h264", synth([(stap, False, 2)] + fu))

# h264_params
td = open(os.path.join(CORE, "src", "h264", "testdata.rs")).read()
for h in set(re.findall(r'"([0-9a-f]{8,})"', td)):
    put("h264_params", bytes.fromhex(h))

# fmp4_reader
mp4 = open(os.path.join(ROOT, "seeds", "sim_clip_1s.mp4"), "rb").read()
put("fmp4_reader", mp4, "sim_clip_1s.mp4")
moof = mp4.find(b"moof") - 4
put("fmp4_reader", mp4[:moof], "init_only.mp4")
put("fmp4_reader", mp4[: moof + (len(mp4) - moof) // 3], "torn.mp4")

# onvif_xml
for path in glob.glob(os.path.join(CORE, "src", "onvif", "*.rs")):
    src = open(path).read()
    for doc in re.findall(r'r#"(<.*?)"#', src, re.S):
        if "Envelope" in doc or "<?xml" in doc:
            doc = doc.replace("{relates}", "urn:uuid:00000000-0000-0000-0000-000000000000")
            put("onvif_xml", doc.encode())
# ... and the WS-Discovery corpus (core/tests/fixtures/discovery/), answering the fuzz target's
# probe ID so the replies reach the ProbeMatch reader, not just the RelatesTo check.
FUZZ_MID = "00000000-0000-0000-0000-000000000000"
for path in sorted(glob.glob(os.path.join(CORE, "tests", "fixtures", "discovery", "*.xml"))):
    doc = re.sub("0a6dc791-2be6-4991-9af1-454778a1917a", FUZZ_MID, open(path).read(), flags=re.I)
    put("onvif_xml", doc.encode(), "discovery_" + os.path.basename(path))

# sdp
put("sdp", open(os.path.join(CORE, "testdata", "gst_1080p_capture.sdp"), "rb").read())
put("sdp", b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=camwire sim\r\nt=0 0\r\na=control:*\r\n"
    b"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    b"a=fmtp:96 packetization-mode=1;profile-level-id=4d401e;"
    b"sprop-parameter-sets=Z01AHtkAoC/5cBEAAAMAAQAAAwAyDxYuSA==,aOvMsg==\r\n"
    b"a=control:trackID=0\r\na=framerate:25\r\n"
    b"m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
put("sdp", b"Z01AHtkAoC/5cBEAAAMAAQAAAwAyDxYuSA==,aOvMsg==")

# capture
end = 0
for _ in range(25):
    end += 4 + struct.unpack(">H", capture[end + 2 : end + 4])[0]
put("capture", capture[:end])
