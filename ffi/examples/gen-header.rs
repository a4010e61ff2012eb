//! Writes include/camwire.h from the ffi sources: `ffi/gen-header.sh` (or
//! `cargo run -p camwire-ffi --example gen-header`).

#[path = "../tests/support/header.rs"]
mod header;

fn main() {
    let path = header::header_path();
    std::fs::write(&path, header::generate()).expect("write include/camwire.h");
    println!("wrote {}", path.display());
}
