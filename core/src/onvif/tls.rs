//! HTTPS for cameras whose XAddr is `https://` (feature `tls`, on by default).
//!
//! Most cameras that speak HTTPS at all ship a self-signed certificate, so a client that only
//! verifies against public roots cannot talk to them, and one that silently accepts anything
//! gives up what TLS is for. The policy is therefore explicit, per device, in
//! [`ClientOptions::tls`](super::ClientOptions::tls): verify against the Mozilla roots
//! (default), accept exactly one pinned certificate (the camera's own self-signed one, checked
//! once out of band), or, as a named opt-in, accept any certificate. In every mode the
//! server must still prove it holds the certificate's key (handshake signatures are checked).
//!
//! rustls with the ring provider: pure Rust plus ring's C, no OpenSSL to link.

/// How a camera's HTTPS certificate is checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TlsVerify {
    /// Chain to a Mozilla root (webpki-roots) and match the host name or IP address. Fails on
    /// self-signed certificates, as it should.
    #[default]
    WebPki,
    /// Chain to one of these CA certificates (DER) instead, and match the host name or IP
    /// address: a site's own PKI that issued the cameras' certificates.
    CustomRoots(Vec<Vec<u8>>),
    /// Accept exactly the certificate whose DER encoding has this SHA-256 (what
    /// `openssl x509 -noout -fingerprint -sha256` prints), whoever signed it and whatever name
    /// it carries: trust on first use for a camera's self-signed certificate.
    Pinned([u8; 32]),
    /// Accept any certificate. The link is encrypted but open to a man in the middle: only
    /// for cameras with self-signed certificates on a network you trust.
    AcceptAny,
}

impl TlsVerify {
    /// Parses a SHA-256 fingerprint in hex, with or without `:` separators (as openssl prints
    /// it) into [`TlsVerify::Pinned`].
    pub fn pinned_hex(fingerprint: &str) -> Option<TlsVerify> {
        let hex: String = fingerprint
            .chars()
            .filter(|c| *c != ':' && !c.is_whitespace())
            .collect();
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(TlsVerify::Pinned(out))
    }

    /// The policy as users state it (CLI flags, Python keywords): at most one of a pinned
    /// fingerprint, a CA file's contents, or the accept-any opt-in; none gives
    /// [`TlsVerify::WebPki`].
    pub fn from_choice(
        pin: Option<&str>,
        ca_file: Option<&[u8]>,
        accept_any: bool,
    ) -> Result<TlsVerify, Error> {
        let bad = |m: String| Error::InvalidInput(m);
        match (pin, ca_file, accept_any) {
            (None, None, false) => Ok(TlsVerify::WebPki),
            (Some(pin), None, false) => Self::pinned_hex(pin).ok_or_else(|| {
                bad(format!(
                    "TLS pin {pin:?}: expected a SHA-256 fingerprint (64 hex digits, ':' allowed)"
                ))
            }),
            (None, Some(file), false) => Self::custom_roots(file)
                .ok_or_else(|| bad("TLS CA file: no certificate in it".into())),
            (None, None, true) => Ok(TlsVerify::AcceptAny),
            _ => Err(bad(
                "choose one TLS policy: a pinned fingerprint, a CA file, or accept-any".into(),
            )),
        }
    }

    /// [`TlsVerify::CustomRoots`] from a CA file as sites hand them out: every certificate of
    /// a PEM file, or the file itself when it is DER. `None` when there is none.
    pub fn custom_roots(file: &[u8]) -> Option<TlsVerify> {
        use base64::Engine as _;
        const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
        const END: &str = "-----END CERTIFICATE-----";
        let Ok(text) = std::str::from_utf8(file) else {
            return Some(TlsVerify::CustomRoots(vec![file.to_vec()]));
        };
        let mut ders = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find(BEGIN) {
            let body = rest.get(start + BEGIN.len()..)?;
            let end = body.find(END)?;
            let b64: String = body.get(..end)?.split_whitespace().collect();
            ders.push(base64::engine::general_purpose::STANDARD.decode(b64).ok()?);
            rest = body.get(end + END.len()..)?;
        }
        (!ders.is_empty()).then_some(TlsVerify::CustomRoots(ders))
    }
}

use super::error::Error;

#[cfg(feature = "tls")]
pub(crate) use imp::connect;

#[cfg(feature = "tls")]
mod imp {
    use std::sync::{Arc, OnceLock};

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
    use sha2::{Digest, Sha256};
    use tokio::net::TcpStream;
    use tokio_rustls::TlsConnector;
    use tokio_rustls::client::TlsStream;

    use super::TlsVerify;
    use crate::onvif::error::{Error, Result};

    fn provider() -> Arc<CryptoProvider> {
        static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
        P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
            .clone()
    }

    fn config(verify: &TlsVerify) -> std::result::Result<Arc<ClientConfig>, rustls::Error> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        let cfg = match verify {
            TlsVerify::WebPki => {
                static WEBPKI: OnceLock<Arc<ClientConfig>> = OnceLock::new();
                if let Some(c) = WEBPKI.get() {
                    return Ok(c.clone());
                }
                let roots =
                    RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                let c = Arc::new(builder.with_root_certificates(roots).with_no_client_auth());
                return Ok(WEBPKI.get_or_init(|| c).clone());
            }
            TlsVerify::CustomRoots(ders) => {
                let mut roots = RootCertStore::empty();
                for der in ders {
                    roots.add(CertificateDer::from(der.clone()))?;
                }
                builder.with_root_certificates(roots)
            }
            TlsVerify::Pinned(sha) => {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(Lenient {
                        pin: Some(*sha),
                        algs: provider().signature_verification_algorithms,
                    }))
            }
            TlsVerify::AcceptAny => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Lenient {
                    pin: None,
                    algs: provider().signature_verification_algorithms,
                })),
        };
        Ok(Arc::new(cfg.with_no_client_auth()))
    }

    /// Accepts a pinned certificate (or any), but still checks the handshake signatures, so
    /// the peer must hold the certificate's private key.
    #[derive(Debug)]
    struct Lenient {
        pin: Option<[u8; 32]>,
        algs: WebPkiSupportedAlgorithms,
    }

    impl ServerCertVerifier for Lenient {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> std::result::Result<ServerCertVerified, rustls::Error> {
            match self.pin {
                None => Ok(ServerCertVerified::assertion()),
                Some(pin) if Sha256::digest(end_entity.as_ref()).as_slice() == pin => {
                    Ok(ServerCertVerified::assertion())
                }
                Some(_) => Err(rustls::Error::General(
                    "certificate does not match the pinned SHA-256 fingerprint".into(),
                )),
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algs.supported_schemes()
        }
    }

    /// The TLS handshake on a connected socket, checked as `verify` says.
    pub(crate) async fn connect(
        tcp: TcpStream,
        host: &str,
        verify: &TlsVerify,
        target: &str,
    ) -> Result<TlsStream<TcpStream>> {
        let tls_err = |reason: String| Error::Connection {
            target: target.to_string(),
            reason: format!("TLS: {reason}"),
        };
        let cfg = config(verify).map_err(|e| tls_err(e.to_string()))?;
        // URL hosts in brackets are IPv6 literals; ServerName wants them bare.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(bare.to_string())
            .map_err(|e| tls_err(format!("bad server name: {e}")))?;
        TlsConnector::from(cfg)
            .connect(name, tcp)
            .await
            .map_err(|e| tls_err(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_fingerprints_parse_as_openssl_prints_them() {
        let colons = "AB:".repeat(31) + "CD";
        assert_eq!(
            TlsVerify::pinned_hex(&colons),
            Some(TlsVerify::Pinned({
                let mut p = [0xAB; 32];
                p[31] = 0xCD;
                p
            }))
        );
        assert!(TlsVerify::pinned_hex(&"ab".repeat(32)).is_some());
        assert_eq!(TlsVerify::pinned_hex("abcd"), None);
        assert_eq!(TlsVerify::pinned_hex(&"zz".repeat(32)), None);
    }

    #[test]
    fn one_policy_at_a_time() {
        assert_eq!(
            TlsVerify::from_choice(None, None, false).unwrap(),
            TlsVerify::WebPki
        );
        assert_eq!(
            TlsVerify::from_choice(None, None, true).unwrap(),
            TlsVerify::AcceptAny
        );
        let pin = "ab".repeat(32);
        assert!(matches!(
            TlsVerify::from_choice(Some(&pin), None, false),
            Ok(TlsVerify::Pinned(_))
        ));
        for e in [
            TlsVerify::from_choice(Some(&pin), None, true),
            TlsVerify::from_choice(Some("nope"), None, false),
            TlsVerify::from_choice(None, Some(b"not a PEM certificate\n"), false),
        ] {
            assert!(matches!(e, Err(Error::InvalidInput(_))), "{e:?}");
        }
        // DER (not UTF-8) is taken as one certificate; rustls checks it when connecting.
        assert!(matches!(
            TlsVerify::from_choice(None, Some(&[0x30, 0x82, 0xff]), false),
            Ok(TlsVerify::CustomRoots(v)) if v.len() == 1
        ));
    }
}
