//! Fetching a recording of an ONVIF device: the Replay service's GetReplayUri, then
//! [`fetch`], with the device (GetDeviceInformation), the recording token and the device's
//! clock offset in the manifest's `origin.device`. When the range holds nothing, the error
//! names what the recording does hold (Recording Search).

use std::path::Path;
use std::time::SystemTime;

use super::fetch::{FetchOptions, FetchSummary, ReplayError, fetch};
use super::manifest::{DeviceOrigin, clock_warning};
use crate::onvif::OnvifDevice;

/// Fetches `[start, end)` of recording `recording_token` of `dev` into `out`. The RTSP
/// login is `opts.credentials` (usually the ONVIF one). A device without a Replay service
/// is [`ReplayError::Onvif`] saying so; one whose RTSP server refuses replay is
/// [`ReplayError::NoProfileG`].
pub async fn fetch_recording(
    dev: &OnvifDevice,
    recording_token: &str,
    start: SystemTime,
    end: SystemTime,
    out: &Path,
    opts: &FetchOptions,
) -> Result<FetchSummary, ReplayError> {
    let uri = dev.replay_uri(recording_token).await?;
    let info = match dev.device_information().await {
        Ok(i) => i,
        Err(e) => {
            log::warn!("GetDeviceInformation failed ({e}); the manifest names no model");
            Default::default()
        }
    };
    let device = DeviceOrigin {
        xaddr: dev.xaddr().to_string(),
        manufacturer: info.manufacturer,
        model: info.model,
        firmware_version: info.firmware_version,
        serial_number: info.serial_number,
        recording_token: recording_token.to_string(),
        clock_offset_secs: dev.clock_offset().as_secs_f64(),
        clock_warning: clock_warning(dev.clock_offset().as_secs_f64()),
    };
    if let Some(w) = &device.clock_warning {
        log::warn!("{}: {w}", device.xaddr);
    }
    let opts = FetchOptions {
        device: Some(device),
        ..opts.clone()
    };
    match fetch(&uri, start, end, out, &opts).await {
        // Say what the device does hold (Recording Search, when it has one).
        Err(ReplayError::NoRecording { start, end, detail }) => {
            let held = match dev.recordings().await {
                Ok(recs) => recs
                    .iter()
                    .find(|r| r.token == recording_token)
                    .map(|r| {
                        let show = |t: Option<jiff::Timestamp>| {
                            t.map_or("?".to_string(), |t| t.to_string())
                        };
                        format!(
                            "; recording {recording_token} holds {} .. {}",
                            show(r.earliest),
                            show(r.latest)
                        )
                    })
                    .unwrap_or_default(),
                Err(e) => {
                    log::debug!("recording search after an empty fetch: {e}");
                    String::new()
                }
            };
            Err(ReplayError::NoRecording {
                start,
                end,
                detail: format!("{detail}{held}"),
            })
        }
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::clock_warning;

    #[test]
    fn whole_hours_off_utc_are_flagged_as_local_time() {
        assert!(clock_warning(3599.5).is_some_and(|w| w.contains("+1 h")));
        assert!(clock_warning(-7.0 * 3600.0 + 30.0).is_some_and(|w| w.contains("-7 h")));
        for fine in [0.0, 2.5, -30.0, 1800.0, 3600.0 + 600.0, f64::NAN] {
            assert_eq!(clock_warning(fine), None, "{fine}");
        }
    }
}
