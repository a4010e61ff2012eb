//! Gives libcamwire.so its SONAME: `libcamwire.so.0` while camwire is 0.x (binaries linked
//! against it record that name, and `make -C ffi install` installs libcamwire.so.0 with the
//! libcamwire.so symlink). Within one SONAME the ABI only grows (see ffi/README.md).

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" || target_os == "android" || target_os.ends_with("bsd") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcamwire.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
