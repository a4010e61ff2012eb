//! include/camwire.h is what cbindgen (pinned) makes from the sources today, and it compiles
//! on its own as C11 and as C++17 with -Wall -Wextra -Werror -pedantic.

#[path = "support/header.rs"]
mod header;
mod support;

#[test]
fn header_is_fresh() {
    let fresh = header::generate();
    let checked_in = std::fs::read_to_string(header::header_path()).unwrap_or_default();
    assert!(
        fresh == checked_in,
        "include/camwire.h is stale: run ffi/gen-header.sh and commit the result"
    );
}

#[test]
fn header_compiles_alone() {
    let dir = support::tmpdir("header");
    let src = dir.join("only_header.c");
    std::fs::write(&src, "#include \"camwire.h\"\n").unwrap();
    for (cc, std) in [("gcc", "-std=c11"), ("g++", "-std=c++17")] {
        let mut c = std::process::Command::new(cc);
        c.args(["-Wall", "-Wextra", "-Werror", "-pedantic", std]);
        if cc == "g++" {
            c.args(["-x", "c++"]);
        }
        let out = c
            .arg("-I")
            .arg(support::root().join("include"))
            .args(["-c"])
            .arg(&src)
            .arg("-o")
            .arg(dir.join(format!("{cc}.o")))
            .output()
            .expect("compiler");
        support::assert_ok(&out, &format!("{cc} {std} on camwire.h alone"));
    }
}
