//! Lays out the release sidecar's hot code side by side: the linker places the
//! functions listed in `code-order.txt` (written by `scripts/code-order`) first,
//! hottest first. The kernel maps code in 64 KiB runs around each page touched,
//! so scattered hot code made most of the 12 MiB text resident; packed, it is a
//! few MiB (the README's performance section has the measurement).
//!
//! Only where the linker is known to read the file: Rust's default linker for
//! x86_64 Linux since 1.90 is its bundled LLD. A build that chose its own linker
//! (`-C linker=`, `-fuse-ld=` in its flags), or sets `DATAGATE_CODE_ORDER=off`,
//! keeps the default layout; so does every debug build.
//!
//! The same builds also pack their relative relocations (`-z pack-relative-relocs`,
//! DT_RELR) when the C library here loads them (glibc 2.36 and later): the
//! position-independent binary's 0.5 MiB `.rela.dyn` table, read once by the
//! loader at startup, stayed resident for the process's life (a pagemap of the
//! SQLite sidecar under load: 516 of its 518 KiB present); packed, it is a few
//! KiB. `DATAGATE_PACKED_RELOCS=off` links without it (for a binary that must
//! run on an older glibc than the one it was built on).

use std::env;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=code-order.txt");
    println!("cargo:rerun-if-env-changed=DATAGATE_CODE_ORDER");
    println!("cargo:rerun-if-env-changed=DATAGATE_PACKED_RELOCS");
    if !lld_release() {
        return;
    }
    if env::var("DATAGATE_PACKED_RELOCS").as_deref() != Ok("off") && glibc_minor().is_some_and(|m| m >= 36) {
        println!("cargo:rustc-link-arg-bin=datagate=-Wl,-z,pack-relative-relocs");
    }
    if let Some(file) = order_file() {
        println!("cargo:rustc-link-arg-bin=datagate=-Wl,--symbol-ordering-file={file}");
        // Names the file has and this build does not (it was written for an older
        // source) are expected: they just do not move anything.
        println!("cargo:rustc-link-arg-bin=datagate=-Wl,--no-warn-symbol-ordering");
    }
}

fn var(name: &str) -> String {
    env::var(name).unwrap_or_default()
}

/// A release build for x86_64 Linux linked by Rust's bundled LLD.
fn lld_release() -> bool {
    let release_x86_64_linux = var("PROFILE") == "release" && var("TARGET") == "x86_64-unknown-linux-gnu";
    let flags = var("CARGO_ENCODED_RUSTFLAGS");
    let own_linker = flags.contains("linker")
        || flags.contains("fuse-ld")
        || env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some();
    release_x86_64_linux && !own_linker && rustc_minor().is_some_and(|m| m >= 90)
}

/// The ordering file's path, when this build should use it.
fn order_file() -> Option<String> {
    if var("DATAGATE_CODE_ORDER") == "off" {
        return None;
    }
    let file = Path::new(&var("CARGO_MANIFEST_DIR")).join("code-order.txt");
    file.is_file().then(|| file.display().to_string())
}

/// The minor version of the glibc here (`getconf GNU_LIBC_VERSION`: `glibc 2.36`
/// → 36); None on another C library.
fn glibc_minor() -> Option<u32> {
    let out = Command::new("getconf").arg("GNU_LIBC_VERSION").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text.trim().strip_prefix("glibc ")?;
    let mut parts = version.split('.');
    (parts.next()? == "2").then_some(())?;
    parts.next()?.parse().ok()
}

/// The minor version of the compiler building this (`rustc 1.95.0 (...)` → 95).
fn rustc_minor() -> Option<u32> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace().nth(1)?.split('.').nth(1)?.parse().ok()
}
