//! The one classification of errors that the C and Python bindings switch on, shared by
//! every module (RTSP, ONVIF, recording), so `CAMWIRE_E_AUTH` or `camwire.AuthError` mean the
//! same thing whichever part of camwire raised them.

/// What went wrong, as a small closed set the bindings can switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The device could not be reached (DNS, refused, reset, no usable interface).
    Connection,
    /// The device refused our credentials, or needs credentials we do not have.
    Auth,
    /// The device did not answer in time.
    Timeout,
    /// The device answered, but not in a way we understand (bad RTSP/HTTP, bad XML, SOAP
    /// fault, no usable track).
    Protocol,
    /// The caller gave us something unusable (bad URL, unknown profile, unsupported scheme).
    InvalidInput,
}
