//! Footage off the device: ONVIF Profile G replay over RTSP into one MP4 with a manifest.
//!
//! The first H.264 or H.265 video stream of the replay is fetched: H.264 into `avc1`/`avcC`,
//! H.265 into `hvc1`/`hvcC` (IRAP pictures are its keyframes), progressive or fragmented,
//! timed by 0xABAC either way. A parameter-set change inside the range is the typed
//! [`ReplayError::ParameterSetsChanged`] for a clip; a back-fill starts a new segment file
//! there, as the recorder does.
//!
//! - [`extension`]: the 0xABAC RTP header extension (NTP time of each frame, C/E/D/T flags,
//!   CSeq), with the 2036 NTP era placed by a reference time.
//! - [`fetch`](mod@fetch): one download: `PLAY` with `Require: onvif-replay`,
//!   `Range: clock=T1-T2`, `Rate-Control: no` (falling back to `yes` when the device refuses
//!   it) and `Immediate: yes`, never `Frames`; frames timed by 0xABAC; cut to T1..T2 by us
//!   (devices ignore the end of the range); written as a progressive (or fragmented) MP4 by
//!   the export writer ([`crate::export::mp4_writer`]); `verify` checks it by its output and
//!   media hashes.
//! - [`manifest`]: the export manifest plus an `origin` block saying where the footage came
//!   from and how it was fetched.
//! - [`device`]: from an ONVIF device and a recording token: GetReplayUri
//!   ([`crate::onvif::replay`]), then [`fetch()`], the device named in the manifest.
//!   Recording Search (recordings, data-presence ranges and gaps) is [`crate::onvif::search`].
//!
//! - [`backfill`](mod@backfill): the same download written as recorder segments under a
//!   recording root, recorded in `gaps.jsonl` as `backfilled from device`.
//! - [`vendor`]: Hikvision, Dahua and Uniview playback URLs for devices without a working
//!   Profile G ([`FetchOptions::vendor`] plays them without the replay headers).
//!
//! Audio ([`FetchOptions::audio`], default the first AAC or G.711 stream) comes along in
//! both: cut to the window the video presents, placed by the audio packets' own 0xABAC
//! times, else the PLAY answer's RTP-Info, else arrival (`audio` module docs).
//!
//! Not here yet (issue 13): fetching one clip across a parameter-set change.

mod audio;
pub mod backfill;
pub mod device;
pub mod extension;
pub mod fetch;
pub mod manifest;
pub mod vendor;

pub use backfill::{BACKFILL_REASON, BackfillSummary, backfill};
pub use device::fetch_recording;
pub use extension::{ExtensionError, ONVIF_REPLAY_PROFILE, ReplayExtension};
pub use fetch::{FetchOptions, FetchProgress, FetchSummary, ReplayError, fetch};
pub use manifest::{DeviceOrigin, Origin, ReplayManifest};
pub use vendor::{UnknownVendor, Vendor, VendorPlayback};
