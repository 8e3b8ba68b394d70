//! Link flags for the kernel image, scoped to this crate's binary (`rustc-link-arg-bins`), so
//! they never reach build scripts or proc-macros the way unscoped rustflags would.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    println!("cargo:rerun-if-changed=kernel.ld");
    // No C runtime start files: the entry point is the Multiboot entry in src/boot.rs.
    println!("cargo:rustc-link-arg-bins=-nostartfiles");
    println!("cargo:rustc-link-arg-bins=-static");
    // The image is loaded at fixed physical addresses; the 32-bit boot code uses absolute ones.
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rustc-link-arg-bins=-Wl,--build-id=none");
    println!("cargo:rustc-link-arg-bins=-Wl,-T{dir}/kernel.ld");
}
