//! Generates include/camwire.h with cbindgen (pinned =0.29.4 in ffi/Cargo.toml), shared by
//! `ffi/examples/gen-header.rs` (writes it) and `ffi/tests/header.rs` (checks it is fresh).

use std::path::{Path, PathBuf};

/// The ffi crate directory.
pub fn ffi_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `include/camwire.h` in the workspace.
pub fn header_path() -> PathBuf {
    ffi_dir().join("../include/camwire.h")
}

/// The header as cbindgen makes it from the current sources.
pub fn generate() -> String {
    let dir: &Path = &ffi_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("UTF-8 header")
}
