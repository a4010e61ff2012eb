#![cfg(all(feature = "sim", feature = "tls"))]
//! ONVIF over HTTPS: the sim camera's ONVIF face behind a TLS proxy written on OpenSSL
//! (`support/tls_proxy.py`, Python's ssl module), with certificates made by the `openssl` CLI.
//! The proxy listens on 127.0.0.2, so the plain-HTTP service addresses the device reports
//! (127.0.0.1) are rewritten to the HTTPS address we reached, scheme included: every SOAP
//! call goes through TLS. Certificate policies: public roots refuse a self-signed camera; a
//! pinned fingerprint or the explicit accept-any opt-in let it through; a site CA verifies a
//! leaf for the right IP only.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use camwire::onvif::{ClientOptions, ErrorKind, OnvifDevice, TlsVerify};
use camwire::sim::{SimCamera, SimOnvifOptions, SimOptions};

fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl CLI (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The certificates of `support/make_test_certs.sh` (openssl CLI) in a fresh directory.
fn make_certs(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("camwire-https-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/make_test_certs.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(&dir)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// The TLS proxy in front of `upstream` with `cert`; killed on drop.
struct Proxy {
    child: Child,
    xaddr: String,
}

impl Proxy {
    fn start(dir: &Path, cert: &str, upstream: &str) -> Proxy {
        use std::io::BufRead;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/tls_proxy.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(dir.join(format!("{cert}.pem")))
            .arg(dir.join(format!("{cert}.key")))
            .arg("127.0.0.2")
            .arg(upstream)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().strip_prefix("READY ").expect("proxy ready");
        Proxy {
            child,
            xaddr: format!("https://127.0.0.2:{port}/onvif/device_service"),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn sim() -> (SimCamera, String) {
    let sim = SimCamera::start(SimOptions {
        onvif: Some(SimOnvifOptions {
            multicast: None,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let xaddr = url::Url::parse(&sim.xaddr().expect("onvif face")).unwrap();
    let upstream = format!("127.0.0.1:{}", xaddr.port().unwrap());
    (sim, upstream)
}

fn with(tls: TlsVerify) -> ClientOptions {
    ClientOptions {
        tls,
        ..ClientOptions::default()
    }
}

/// Connects, reads the device information and the profiles; every call is HTTPS.
async fn talk(xaddr: &str, tls: TlsVerify) -> camwire::onvif::Result<usize> {
    let dev = OnvifDevice::connect(xaddr, None, with(tls)).await?;
    // The services the device reported on plain HTTP at 127.0.0.1 now point at the proxy.
    let s = dev.services();
    for u in [Some(&s.device), s.media.as_ref(), s.events.as_ref()] {
        let u = u.expect("device, media and events services");
        assert_eq!(
            (u.scheme(), u.host_str()),
            ("https", Some("127.0.0.2")),
            "{u}"
        );
    }
    let info = dev.device_information().await?;
    assert!(!info.manufacturer.is_empty());
    let profiles = dev.profiles().await?;
    assert!(
        profiles.iter().all(|p| p.stream_uri.is_some()),
        "{profiles:?}"
    );
    Ok(profiles.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_camera_needs_a_pin_or_the_explicit_opt_in() {
    let dir = make_certs("ss");
    let (sim, upstream) = sim().await;
    let proxy = Proxy::start(&dir, "ss", &upstream);

    // Public roots: refused, as a connection error naming TLS.
    let e = talk(&proxy.xaddr, TlsVerify::WebPki).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    assert!(e.to_string().contains("TLS"), "{e}");

    // The pinned fingerprint, as openssl prints it.
    let fp = openssl(
        &dir,
        &["x509", "-in", "ss.pem", "-noout", "-fingerprint", "-sha256"],
    );
    let pin = TlsVerify::pinned_hex(fp.trim().rsplit('=').next().unwrap()).expect("fingerprint");
    assert_eq!(talk(&proxy.xaddr, pin.clone()).await.unwrap(), 1);

    // Another certificate's pin: refused.
    let mut wrong = match pin {
        TlsVerify::Pinned(p) => p,
        _ => unreachable!(),
    };
    wrong[0] ^= 1;
    let e = talk(&proxy.xaddr, TlsVerify::Pinned(wrong))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    assert!(e.to_string().contains("pinned"), "{e}");

    // The named opt-in.
    assert_eq!(talk(&proxy.xaddr, TlsVerify::AcceptAny).await.unwrap(), 1);
    drop(proxy);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_ca_verifies_the_leaf_for_the_right_address_only() {
    let dir = make_certs("ca");
    let (sim, upstream) = sim().await;
    let roots = TlsVerify::CustomRoots(vec![std::fs::read(dir.join("ca.der")).unwrap()]);
    // The PEM file says the same.
    let pem = std::fs::read(dir.join("ca.pem")).unwrap();
    assert_eq!(TlsVerify::custom_roots(&pem), Some(roots.clone()));

    let good = Proxy::start(&dir, "ok", &upstream);
    assert_eq!(talk(&good.xaddr, roots.clone()).await.unwrap(), 1);
    // Not chained to a public root.
    let e = talk(&good.xaddr, TlsVerify::WebPki).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    drop(good);

    // Signed by the site CA, but for another IP address.
    let wrong = Proxy::start(&dir, "wrong", &upstream);
    let e = talk(&wrong.xaddr, roots).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e}");
    assert!(e.to_string().contains("TLS"), "{e}");
    drop(wrong);
    sim.shutdown().await;
}
