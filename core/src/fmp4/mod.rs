//! Fragmented MP4 (ISO BMFF) for recording: the init segment, fragments written with one
//! vectored write each, and a bounded reader for crash recovery and export.
//!
//! File layout (one video track, ID 1, timescale = RTP clock rate; H.264 as `avc1`/`avcC`,
//! H.265 as `hvc1`/`hvcC`, see [`VideoCodec`]):
//!
//! ```text
//! ftyp (iso6; iso6 iso5 isom avc1 mp41)
//! moov { mvhd, trak { tkhd, mdia { mdhd, hdlr vide, minf { vmhd, dinf/dref/url,
//!        stbl { stsd/avc1/avcC (or hvc1/hvcC), empty stts stsc stsz stco } } } }, mvex/trex }
//! per fragment:
//!   prft v1 (NTP wall-clock of the first sample, its media time)   -- when a clock is known
//!   moof { mfhd (1, 2, 3…), traf { tfhd (default-base-is-moof), tfdt v1,
//!          trun v1 (data offset; per sample duration, size, flags, signed cts offset) } }
//!   mdat (4-byte length-prefixed NAL units, exactly as the camera sent them)
//! ```
//!
//! Audio (AAC as `mp4a`/`esds`, G.711 as `ulaw`/`alaw`, one sample per AAC access unit or
//! per RTP packet, bytes as sent) goes in tracks 2, 3, ... after the video ([`write_av_init`],
//! [`audio_track_id`]); each fragment then has one more `traf` per audio track that has
//! samples, after the video `traf`, and their bytes follow the video's in the same `mdat`
//! (see `fragment.rs`). Video-only files are byte for byte what they were before audio existed.
//! ffmpeg 5.1 (`-c copy`, framemd5) and GStreamer 1.22 qtdemux return every audio frame byte
//! for byte at its decode time (`core/tests/fmp4_audio_ffprobe.rs`).
//!
//! A fragment with packet loss also carries a loss table (`uuid` box) in its `traf`; see
//! `fragment.rs` for its layout and [`DamageTracker`] for the damaged time ranges read from it.
//!
//! Decode times start at 0 in every file: [`FragmentBuilder`] takes the first dts pushed into
//! it as the file's origin.
//!
//! - [`write_video_init`] / [`VideoConfig`] (any codec), [`write_init_segment`] / [`VideoTrack`]
//!   (H.264): the init segment.
//! - [`FragmentBuilder`]: collects access units (moving their `Bytes`, copying nothing) and
//!   writes a fragment.
//! - [`scan_fragments`], [`read_init`], [`read_fragment_samples`], [`read_sample`]: reading
//!   files back without loading them, for recovery and export; [`parse_moov_audio`] and
//!   [`read_track_samples`] for the audio tracks.
//! - [`BoxIter`], [`FileBoxIter`]: the underlying panic-free box walkers.

pub(crate) mod boxes;
mod error;
mod fragment;
mod init;
mod read_init;
mod reader;
mod scan;
#[cfg(test)]
mod tests;

pub use error::Fmp4Error;
pub use fragment::{
    FragmentBuilder, KEYFRAME_SAMPLE_FLAGS, LOSS_BOX_UUID, LOSS_FLAG_DAMAGED,
    NON_KEYFRAME_SAMPLE_FLAGS, NON_SYNC_BIT, base_decode_time, sample_flags,
};
pub use init::{
    AudioCodec, AudioConfig, TRACK_ID, VideoCodec, VideoConfig, VideoTrack, audio_track_id,
    write_av_init, write_init_segment, write_video_init,
};
pub use read_init::{
    AudioTrackInfo, MAX_AUDIO_TRACKS, MAX_MOOV_BYTES, TrackDefaults, parse_moov, parse_moov_audio,
    read_init, read_init_with_defaults,
};
pub use reader::{
    BoxHeader, BoxIter, BoxRef, FileBoxIter, FourCC, decode_header, find_child, find_path,
    read_body, read_header_at, source_len,
};
pub use scan::{
    AudioTrafInfo, DamageSpan, DamageTracker, FragmentInfo, MAX_MOOF_BYTES, SampleInfo, ScanResult,
    read_fragment_samples, read_sample, read_track_samples, scan_fragments,
};
