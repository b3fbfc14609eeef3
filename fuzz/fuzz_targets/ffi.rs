//! The C entry points, called as a C program would: arbitrary bytes as ECS lines
//! into a handle (both semantics), every verdict polled and rendered as JSON through
//! undersized and exact buffers, a snapshot round trip, and the input itself as a
//! snapshot image. Never a panic across the boundary, never `SHAREEXEC_PANIC`.
#![no_main]

use core::ptr::{null, null_mut};

use libfuzzer_sys::fuzz_target;
use shareexec::ffi::*;

fn ok(code: shareexec_result) -> bool {
    code == shareexec_result::SHAREEXEC_OK
}

fuzz_target!(|data: &[u8]| {
    // SAFETY: the calls follow the header's contracts: live handles, valid buffers.
    unsafe {
        for semantics in [
            SHAREEXEC_SEMANTICS_HARDENED,
            SHAREEXEC_SEMANTICS_ELASTICSEARCH,
        ] {
            let mut config: shareexec_config = core::mem::zeroed();
            config.semantics = semantics;
            config.max_lateness_ns = 5_000_000_000;
            let mut d = null_mut();
            assert!(ok(shareexec_detector_new(&config, &mut d)));
            for (n, line) in data.split(|b| *b == b'\n').enumerate() {
                let r = shareexec_detector_feed_json(d, line.as_ptr(), line.len(), n as u64 + 1);
                assert_ne!(r, shareexec_result::SHAREEXEC_PANIC);
            }
            assert!(ok(shareexec_detector_flush(d)));
            let mut verdict: shareexec_verdict = core::mem::zeroed();
            while ok(shareexec_detector_poll(d, &mut verdict)) {
                let mut len = 0usize;
                let r = shareexec_detector_verdict_json(d, null_mut(), 0, &mut len);
                assert_eq!(r, shareexec_result::SHAREEXEC_BUFFER_TOO_SMALL);
                let mut buf = vec![0u8; len + 1];
                let r = shareexec_detector_verdict_json(
                    d,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut len,
                );
                assert!(ok(r));
                assert!(serde_json::from_slice::<serde_json::Value>(&buf[..len]).is_ok());
            }
            let mut len = 0usize;
            let r = shareexec_detector_snapshot(d, null_mut(), 0, &mut len);
            if r == shareexec_result::SHAREEXEC_BUFFER_TOO_SMALL {
                let mut image = vec![0u8; len];
                assert!(ok(shareexec_detector_snapshot(
                    d,
                    image.as_mut_ptr(),
                    image.len(),
                    &mut len
                )));
                let mut restored = null_mut();
                assert!(ok(shareexec_detector_restore(
                    &config,
                    image.as_ptr(),
                    image.len(),
                    &mut restored
                )));
                shareexec_detector_free(restored);
            }
            let mut foreign = null_mut();
            let r = shareexec_detector_restore(&config, data.as_ptr(), data.len(), &mut foreign);
            assert_ne!(r, shareexec_result::SHAREEXEC_PANIC);
            shareexec_detector_free(foreign);
            shareexec_detector_free(d);
            shareexec_detector_free(null_mut());
            let _ = shareexec_detector_last_error(null());
        }
    }
});
