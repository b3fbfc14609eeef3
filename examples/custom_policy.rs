//! A trust policy of your own: trust executables whose SHA-256 is on an allow-list,
//! in addition to the rule's signer exclusions.
//!
//! ```sh
//! cargo run --example custom_policy
//! ```

use std::collections::HashSet;
use std::sync::Arc;

use shareexec::{
    Config, Detector, Event, EventTypes, FileEvent, Hashes, Origin, ProcessEvent, Rule, Semantics,
    SignerPolicy, Timestamp, TrustPolicy, TrustReason, Verdict,
};

/// Executables your deployment tooling pushes over SMB on purpose.
struct HashAllowList {
    sha256: HashSet<String>,
}

impl TrustPolicy for HashAllowList {
    fn assess(&self, process: &ProcessEvent<'_>) -> Option<TrustReason> {
        let hash = process.hash.sha256?;
        self.sha256
            .contains(&hash.to_ascii_lowercase())
            .then(|| TrustReason::new(format!("allow-listed sha256 {hash}")))
    }
}

fn main() {
    let allow = HashAllowList {
        sha256: HashSet::from(["aa11".to_string()]),
    };
    // The rule's exclusions first, then the allow-list.
    let rule = Rule::with_policy(Semantics::Hardened, SignerPolicy::recommended().or(allow));
    let mut detector = Detector::new(Arc::new(rule), Config::default()).expect("valid config");

    let at = |ms| Origin {
        timestamp: Timestamp::from_millis(ms),
        ..Origin::default()
    };
    for (i, sha) in ["aa11", "bb22"].into_iter().enumerate() {
        let path = if i == 0 {
            "C:\\Windows\\deploy.exe"
        } else {
            "C:\\Windows\\evil.exe"
        };
        detector.handle(Event::File(FileEvent {
            origin: at(1_000 * i as i64),
            host_id: Some("srv-1"),
            os_type: Some("windows"),
            types: EventTypes::CREATION,
            pid: Some(4),
            path: Some(path),
            extension: Some("exe"),
            ..FileEvent::default()
        }));
        detector.handle(Event::Process(ProcessEvent {
            origin: at(1_000 * i as i64 + 500),
            host_id: Some("srv-1"),
            os_type: Some("windows"),
            types: EventTypes::START,
            executable: Some(path),
            hash: Hashes {
                sha256: Some(sha),
                ..Hashes::default()
            },
            ..ProcessEvent::default()
        }));
    }
    detector.flush();
    for verdict in detector.drain_verdicts() {
        match verdict {
            Verdict::Alert(s) => println!("ALERT      {} on {}", s.path, s.host_id),
            Verdict::Suppressed(s) => println!("suppressed {} ({})", s.sequence.path, s.reason),
            other => println!("{other:?}"),
        }
    }
}
