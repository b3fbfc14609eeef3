//! The C libraries of shareexec: `libshareexec.a` and `libshareexec.so` (`.dylib`,
//! `.dll`), built with `cargo build --release -p shareexec-ffi` into `target/release/`.
//!
//! The C ABI itself lives in the main crate (`shareexec::ffi`, feature `ffi`, header
//! `include/shareexec.h`); this crate exists only to give it a `staticlib` and `cdylib`
//! crate type, which the main crate cannot declare: it is `no_std` without its `std`
//! feature, and a static or dynamic library must bring a panic handler and an allocator.
//! Re-exporting the functions keeps every one of them linked and exported.
#![no_std]
#![forbid(unsafe_code)]

pub use shareexec_core::ffi::*;
