//! The committed C header is what cbindgen makes of `src/ffi.rs` with `cbindgen.toml`.
//!
//! Regenerate it after changing the C API:
//! `SHAREEXEC_BLESS_HEADER=1 cargo test --test ffi_header`.

use std::path::Path;

fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi.rs"))
        .generate()
        .expect("cbindgen failed on src/ffi.rs");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
fn committed_header_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/shareexec.h");
    let fresh = generate();
    if std::env::var_os("SHAREEXEC_BLESS_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("write include/shareexec.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        let first = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()));
        panic!(
            "include/shareexec.h is stale (first difference at line {}: committed {:?}, generated {:?}); \
             regenerate it with `SHAREEXEC_BLESS_HEADER=1 cargo test --test ffi_header` and commit it",
            first + 1,
            committed.lines().nth(first),
            fresh.lines().nth(first),
        );
    }
}

#[test]
fn version_macros_match_the_crate() {
    let header = generate();
    let define = format!(
        "#define SHAREEXEC_VERSION \"{}\"\n",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        header.contains(&define),
        "the header lacks `{}` (update after_includes in cbindgen.toml)",
        define.trim()
    );
    for (name, value) in [
        ("MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        let define = format!("#define SHAREEXEC_VERSION_{name} {value}\n");
        assert!(
            header.contains(&define),
            "the header lacks `{}`",
            define.trim()
        );
    }
}
