//! `camwire ls`, `camwire export` and `camwire verify` with `--root s3://bucket/prefix`, as a
//! user runs them: the store reached through the standard AWS variables, against a real S3
//! server (s3s-fs on loopback, see core/tests/support/s3.rs). The simulated camera recorded
//! and shipped with `camwire record --upload`.

#[path = "../../core/tests/support/s3.rs"]
mod s3_support;
mod support;

use camwire::sim::{SimCamera, SimOptions};
use s3_support::*;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};
use support::*;

fn camwire_env(server: &Server, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_camwire"))
        .args(args)
        .envs(server.env())
        .output()
        .expect("run camwire");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(SECRET), "the secret leaked: {all}");
    out
}

fn fmt(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).expect("ts").to_string()
}

fn ls_json(server: &Server, root: &str) -> serde_json::Value {
    let r = camwire_env(server, &["ls", "--root", root, "--json"]);
    assert_ok(&r, "camwire ls --json");
    serde_json::from_slice(&r.stdout).expect("json")
}

#[test]
fn ls_export_verify_with_an_s3_root() {
    let base = tmpdir("s3-cli");
    let root = base.join("rec");
    let roots = root.to_str().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(SimCamera::start(SimOptions::default()))
        .unwrap();
    let server = Server::start(&base.join("s3"));
    let url = "s3://camwire/cli";
    // Recorded and shipped by `camwire record --upload` (which drains its backlog at the end).
    let r = camwire_env(
        &server,
        &[
            "record",
            "--camera-id",
            "sim",
            "--upload",
            url,
            "--segment-secs",
            "4",
            "--duration",
            "12",
            "--url",
            &sim.rtsp_url(),
            "--out",
            roots,
        ],
    );
    assert_ok(&r, "camwire record --upload");
    let local_files = mp4_files(&root.join("sim"));
    let shipped: Vec<_> = local_files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(&root).unwrap().to_str().unwrap().to_string();
            server.object_file(&format!("cli/{rel}"))
        })
        .collect();
    assert!(local_files.len() >= 3, "{local_files:?}");
    for (f, o) in local_files.iter().zip(&shipped) {
        assert_eq!(
            std::fs::read(o).ok(),
            std::fs::read(f).ok(),
            "{}",
            o.display()
        );
    }

    // ls: the same JSON from the bucket as from the disk.
    let local = ls_json(&server, roots);
    let remote = ls_json(&server, url);
    assert_eq!(remote, local);
    let cam = &remote["cameras"][0];
    let start = cam["ranges"][0]["start"].as_str().unwrap();
    let s = SystemTime::from(start.parse::<jiff::Timestamp>().unwrap());
    let (t1, t2) = (s + Duration::from_secs(2), s + Duration::from_secs(10));

    // export: the same frames (and the same bytes) from both roots.
    let out = base.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let export = |root: &str, name: &str| {
        let clip = out.join(name);
        let r = camwire_env(
            &server,
            &[
                "export",
                "--root",
                root,
                "--camera",
                "sim",
                "--start",
                &fmt(t1),
                "--end",
                &fmt(t2),
                "--out",
                clip.to_str().unwrap(),
                "--quiet",
            ],
        );
        assert_ok(&r, "camwire export");
        clip
    };
    let lc = export(roots, "local.mp4");
    let sc = export(url, "s3.mp4");
    let (fl, fs) = (
        framemd5(std::slice::from_ref(&lc)),
        framemd5(std::slice::from_ref(&sc)),
    );
    // 8 s at 25 fps; a loaded machine may record a few less.
    assert!(fs.len() >= 150, "{} frames", fs.len());
    assert_eq!(fs, fl, "framemd5 from s3:// equals the local export's");
    assert_eq!(std::fs::read(&sc).unwrap(), std::fs::read(&lc).unwrap());
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("s3.mp4.manifest.json")).unwrap()).unwrap();
    assert_eq!(m["root"], url);
    let src = &m["sources"][0];
    let rel = src["path"].as_str().unwrap();
    assert_eq!(src["url"], format!("{url}/{rel}"));
    assert!(src["etag"].as_str().is_some_and(|e| !e.is_empty()), "{m}");

    // verify: the manifest's s3:// root, reached through the AWS variables.
    let sc_s = sc.to_str().unwrap();
    let r = camwire_env(&server, &["verify", sc_s, "--quiet"]);
    assert_ok(&r, "camwire verify (s3 root)");
    assert!(String::from_utf8_lossy(&r.stdout).starts_with("OK "));
    // ... and against the local copy.
    let r = camwire_env(&server, &["verify", sc_s, "--root", roots, "--quiet"]);
    assert_ok(&r, "camwire verify --root DIR");

    // One flipped byte in the stored object: exit 1, the object named by URL.
    let obj = server.object_file(&format!("cli/{rel}"));
    let mut b = std::fs::read(&obj).unwrap();
    let at = b.len() / 2;
    b[at] ^= 1;
    std::fs::write(&obj, &b).unwrap();
    let r = camwire_env(&server, &["verify", sc_s, "--quiet"]);
    assert_eq!(r.status.code(), Some(1));
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(
        text.contains(&format!("MISMATCH source {url}/{rel}")),
        "{text}"
    );

    // Wrong secret: a clear error, exit 1, the secret never printed.
    let r = Command::new(env!("CARGO_BIN_EXE_camwire"))
        .args(["ls", "--root", url])
        .envs(server.env())
        .env("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(e.contains("credentials refused"), "{e}");
    assert!(
        !e.contains("wrong-secret-value") && !e.contains("panicked"),
        "{e}"
    );
    rt.block_on(sim.shutdown());
    drop(server);
    let _ = std::fs::remove_dir_all(&base);
}
