//! ABI compatibility: libcamwire.so has the SONAME libcamwire.so.0, and a program built
//! against the 0.1.0 header (ffi/tests/compat/camwire_v0_1_0.h, a verbatim copy of the
//! released header, whose structs have no struct_size) still works against today's library,
//! plain and under valgrind.

mod support;

use std::process::Command;
use support::*;

fn readelf_dynamic(path: &std::path::Path) -> String {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(path)
        .output()
        .expect("readelf");
    assert_ok(&out, "readelf -d");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn soname_is_libcamwire_so_0() {
    let d = readelf_dynamic(&lib_dir().join("libcamwire.so"));
    assert!(
        d.contains("Library soname: [libcamwire.so.0]"),
        "no SONAME libcamwire.so.0 in:\n{d}"
    );
}

fn build_old_app(dir: &std::path::Path) -> std::path::PathBuf {
    let lib = lib_dir();
    let exe = dir.join("old_header_app");
    let compat = root().join("ffi/tests/compat");
    let out = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-O1"])
        .arg("-I")
        .arg(&compat)
        .arg(compat.join("old_header_app.c"))
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lcamwire")
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("gcc");
    assert_ok(&out, "compiling old_header_app.c against the 0.1.0 header");
    // Linked by SONAME, as any integrator binary is.
    assert!(readelf_dynamic(&exe).contains("Shared library: [libcamwire.so.0]"));
    exe
}

fn check_run(mut cmd: Command, what: &str) {
    cmd.env("RUST_BACKTRACE", "0");
    let out = cmd.output().expect("run old_header_app");
    assert_ok(&out, what);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("checks OK"), "{what}: {stdout}");
    eprintln!("{what}: {}", stdout.trim());
}

#[test]
fn program_built_against_0_1_0_header_runs() {
    let dir = tmpdir("compat");
    let exe = build_old_app(&dir);
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut cmd = Command::new(&exe);
    cmd.arg(&out_dir);
    check_run(cmd, "0.1.0 program");
}

#[test]
fn program_built_against_0_1_0_header_valgrind() {
    if !have("valgrind") {
        if std::env::var_os("CI").is_some() {
            panic!("valgrind is not installed (apt-get install valgrind)");
        }
        eprintln!("skipping: valgrind not installed");
        return;
    }
    let dir = tmpdir("compat-valgrind");
    let exe = build_old_app(&dir);
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--error-exitcode=1",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect,possible",
        "--show-leak-kinds=definite,indirect,possible",
    ])
    .arg(format!(
        "--suppressions={}",
        root().join("ffi/tests/c/valgrind.supp").display()
    ))
    .arg(&exe)
    .arg(&out_dir);
    check_run(cmd, "0.1.0 program under valgrind");
}
