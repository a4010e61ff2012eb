//! One SHA-256 pass per uploaded segment instead of two.
//!
//! The uploader hashes each segment itself (the journal and export manifests name that
//! SHA-256, and an object found already in the bucket is compared against it). object_store
//! then hashes the same bytes again for the `x-amz-checksum-sha256` header and the payload
//! signature, and has no way to be handed a digest. On 4 Mbit/s streams each pass costs about
//! half of what recording the bytes costs (benches/README.md, "Uploads to S3-compatible
//! storage").
//!
//! [`KnownDigests`] is the [`CryptoProvider`] the uploader's S3 client is built with: ring for
//! everything, except that a SHA-256 whose input is exactly a payload the uploader registered
//! (same address, same length: the single part of a `PutPayload` made from that `Bytes`)
//! yields the registered digest instead of hashing it again. A registration holds a clone of
//! the `Bytes`, so its memory cannot be reused for another buffer while registered. Nothing
//! rests on trust: the store recomputes the checksum and refuses a mismatch (BadDigest), so a
//! wrong digest could only fail an upload, never store wrong bytes under a right name.

use bytes::Bytes;
use object_store::client::{
    CryptoProvider, DigestAlgorithm, DigestContext, HmacContext, SigningAlgorithm,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Registered payloads by (address, length).
type Known = Mutex<HashMap<(usize, usize), ([u8; 32], Bytes)>>;

/// ring's crypto, with the SHA-256 of registered payloads known in advance (module docs).
#[derive(Debug, Default, Clone)]
pub(crate) struct KnownDigests {
    known: Arc<Known>,
}

/// While alive, the registered payload's SHA-256 is known; dropping it forgets it.
pub(crate) struct Registration {
    known: Arc<Known>,
    key: (usize, usize),
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut m) = self.known.lock() {
            m.remove(&self.key);
        }
    }
}

impl KnownDigests {
    /// Registers `data`, whose SHA-256 is `sha256`, until the returned guard is dropped.
    pub(crate) fn register(&self, data: &Bytes, sha256: [u8; 32]) -> Registration {
        let key = (data.as_ptr() as usize, data.len());
        if let Ok(mut m) = self.known.lock() {
            m.insert(key, (sha256, data.clone()));
        }
        Registration {
            known: self.known.clone(),
            key,
        }
    }

    fn lookup(&self, data: &[u8]) -> Option<[u8; 32]> {
        let key = (data.as_ptr() as usize, data.len());
        self.known.lock().ok()?.get(&key).map(|(d, _)| *d)
    }
}

impl CryptoProvider for KnownDigests {
    fn digest(&self, algorithm: DigestAlgorithm) -> object_store::Result<Box<dyn DigestContext>> {
        match algorithm {
            DigestAlgorithm::Sha256 => Ok(Box::new(Sha256Ctx {
                provider: self.clone(),
                ctx: Some(ring::digest::Context::new(&ring::digest::SHA256)),
                state: Fed::Nothing,
                out: [0; 32],
            })),
            _ => Err(unsupported("digest algorithm")),
        }
    }

    fn hmac(
        &self,
        algorithm: DigestAlgorithm,
        secret: &[u8],
    ) -> object_store::Result<Box<dyn HmacContext>> {
        match algorithm {
            DigestAlgorithm::Sha256 => Ok(Box::new(HmacCtx {
                ctx: Some(ring::hmac::Context::with_key(&ring::hmac::Key::new(
                    ring::hmac::HMAC_SHA256,
                    secret,
                ))),
                out: Vec::new(),
            })),
            _ => Err(unsupported("HMAC algorithm")),
        }
    }

    fn sign(
        &self,
        _algorithm: SigningAlgorithm,
        _pem: &[u8],
    ) -> object_store::Result<Box<dyn object_store::client::Signer>> {
        // RSA signing is for Google Cloud service accounts; S3's SigV4 uses HMAC only.
        Err(unsupported("RSA signing"))
    }
}

fn unsupported(what: &str) -> object_store::Error {
    object_store::Error::NotSupported {
        source: format!("{what} (camwire's S3 uploader: SigV4 needs SHA-256 and HMAC only)").into(),
    }
}

/// What a SHA-256 context has been fed so far.
enum Fed {
    Nothing,
    /// Exactly one registered payload: its digest is known.
    Known([u8; 32]),
    /// Anything else: ring hashes it.
    Hashing,
    /// A registered payload and then more: cannot be answered (never happens for a
    /// single-part payload; an error rather than a wrong digest).
    Mixed,
}

struct Sha256Ctx {
    provider: KnownDigests,
    ctx: Option<ring::digest::Context>,
    state: Fed,
    out: [u8; 32],
}

impl DigestContext for Sha256Ctx {
    fn update(&mut self, data: &[u8]) {
        self.state = match self.state {
            Fed::Nothing => match self.provider.lookup(data) {
                Some(d) => Fed::Known(d),
                None => Fed::Hashing,
            },
            Fed::Known(_) | Fed::Mixed => Fed::Mixed,
            Fed::Hashing => Fed::Hashing,
        };
        if matches!(self.state, Fed::Hashing)
            && let Some(ctx) = self.ctx.as_mut()
        {
            ctx.update(data);
        }
    }

    fn finish(&mut self) -> object_store::Result<&[u8]> {
        match self.state {
            Fed::Known(d) => self.out = d,
            Fed::Mixed => {
                return Err(object_store::Error::Generic {
                    store: "S3",
                    source: "SHA-256 of a registered payload followed by more data".into(),
                });
            }
            Fed::Nothing | Fed::Hashing => {
                let ctx = self
                    .ctx
                    .take()
                    .ok_or_else(|| unsupported("SHA-256 finished twice"))?;
                self.out.copy_from_slice(ctx.finish().as_ref());
            }
        }
        Ok(&self.out)
    }
}

struct HmacCtx {
    ctx: Option<ring::hmac::Context>,
    out: Vec<u8>,
}

impl HmacContext for HmacCtx {
    fn update(&mut self, data: &[u8]) {
        if let Some(ctx) = self.ctx.as_mut() {
            ctx.update(data);
        }
    }

    fn finish(&mut self) -> object_store::Result<&[u8]> {
        let ctx = self
            .ctx
            .take()
            .ok_or_else(|| unsupported("HMAC finished twice"))?;
        self.out = ctx.sign().as_ref().to_vec();
        Ok(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn sha(provider: &KnownDigests, parts: &[&[u8]]) -> object_store::Result<Vec<u8>> {
        let mut c = provider.digest(DigestAlgorithm::Sha256)?;
        for p in parts {
            c.update(p);
        }
        c.finish().map(<[u8]>::to_vec)
    }

    #[test]
    fn a_registered_payload_is_not_hashed_again_and_anything_else_is() {
        let p = KnownDigests::default();
        let data = Bytes::from(vec![7u8; 100_000]);
        let real: [u8; 32] = Sha256::digest(&data).into();
        // A marker digest shows which path answered.
        let marker = [0xab; 32];
        let guard = p.register(&data, marker);
        assert_eq!(sha(&p, &[&data]).unwrap(), marker);
        // The same bytes elsewhere, a part of the payload, or other data: hashed.
        let copy = data.to_vec();
        assert_eq!(sha(&p, &[&copy]).unwrap(), real);
        assert_eq!(sha(&p, &[&data[..50_000], &data[50_000..]]).unwrap(), real);
        assert_eq!(sha(&p, &[b"abc"]).unwrap(), Sha256::digest(b"abc").to_vec());
        // The payload and then more: an error, never a wrong digest.
        assert!(sha(&p, &[&data, b"x"]).is_err());
        drop(guard);
        // Forgotten: hashed.
        assert_eq!(sha(&p, &[&data]).unwrap(), real);
    }

    #[test]
    fn hmac_is_rings() {
        let p = KnownDigests::default();
        let mut c = p.hmac(DigestAlgorithm::Sha256, b"key").unwrap();
        c.update(b"The quick brown fox jumps over the lazy dog");
        // RFC 4231-style known answer (HMAC-SHA256("key", "The quick brown fox ...")).
        assert_eq!(
            hex::encode(c.finish().unwrap()),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
