//! ONVIF client: find cameras, learn their streams, and talk to them the way cheap real-world
//! firmware needs.
//!
//! - [`discovery`]: WS-Discovery multicast/unicast Probe and a Hello/Bye listener.
//! - [`soap`]: SOAP 1.2 over a small bounded HTTP/1.1 client ([`http`], HTTPS via [`tls`]
//!   with an explicit certificate policy) with the auth dance
//!   ([`auth`]: WS-Security UsernameToken in the camera's clock, HTTP Digest/Basic).
//! - [`device`], [`media`], [`events`], [`ptz`]: the operations, on [`OnvifDevice`].
//! - [`xml`]: the bounded XML reader every answer goes through (no DOCTYPE, no entity
//!   expansion, depth/size/element caps); elements are matched by local name.
//!
//! ```no_run
//! # async fn demo() -> camwire::onvif::Result<()> {
//! use camwire::onvif::{self, ClientOptions, Credentials, DiscoveryOptions, OnvifDevice};
//! for found in onvif::discover(DiscoveryOptions::default()).await? {
//!     let Some(xaddr) = &found.xaddr else { continue };
//!     let dev = OnvifDevice::connect(xaddr, Some(Credentials::new("admin", "pw")),
//!                                    ClientOptions::default()).await?;
//!     for p in dev.profiles().await? {
//!         println!("{} {:?} {:?}", p.token, p.encoding, p.stream_uri);
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod auth;
pub mod device;
pub mod discovery;
pub mod error;
pub mod events;
pub mod http;
pub mod media;
pub mod ptz;
pub mod replay;
pub mod search;
pub mod soap;
pub mod tls;
pub mod xml;

#[cfg(test)]
mod flow_tests;

pub use auth::{Credentials, HttpAuthScheme};
pub use device::{
    Capabilities, DeviceInformation, HostRewriter, NetworkInterface, OnvifDevice, Scope, Service,
    Services,
};
pub use discovery::{
    Announcement, DiscoveredDevice, DiscoveryListener, DiscoveryOptions, ListenerOptions,
    LocalInterface, discover, probe_unicast,
};
pub use error::{Error, ErrorKind, Result, SoapFault, XmlError};
pub use events::{EventKind, OnvifEvent, PullPoint, PullPointOptions};
pub use media::{MediaVersion, Profile, VideoEncoderConfiguration};
pub use ptz::{Ptz, PtzPreset, PtzVelocity};
pub use soap::{AuthMethod, ClientOptions};
pub use tls::TlsVerify;
pub use xml::XmlLimits;
