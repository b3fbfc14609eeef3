//! Signer trust: which executions the rule forgives, and why.
//!
//! The rule's stage 2 ends in `not ( … )`: three exclusions for software that vendors
//! push over SMB on purpose. [`TrustPolicy`] is that `not ( … )` as a trait, so an
//! embedder can bring its own (an allow-list service, a C callback, …). A policy sees
//! the process event and answers `Some(reason)` when the execution is trusted; the
//! detector then reports the sequence as a [`Suppression`](crate::Suppression) carrying
//! the reason instead of an alert, so analysts can see what the policy hid.
//!
//! [`SignerPolicy`] implements the rule's exclusions and is built with
//! [`SignerPolicyBuilder`]; [`TrustPolicy::or`] combines policies.
//!
//! A missing field never satisfies a comparison (Elasticsearch turns `not` into
//! `must_not`): a process with no `code_signature`, or with a listed signer but no
//! `trusted` flag, is **not** trusted and alerts.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use crate::event::ProcessEvent;
use crate::wildcard::Wildcard;

/// Why a policy trusted an execution: a short text for analysts, cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TrustReason(Arc<str>);

impl TrustReason {
    /// A reason with the given text.
    pub fn new(text: impl Into<Arc<str>>) -> Self {
        TrustReason(text.into())
    }
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TrustReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for TrustReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Decides whether an execution is trusted, i.e. excluded from alerting.
///
/// Implementations must be pure: the same event gets the same answer (the detector
/// may ask at arrival or when an out-of-order buffer releases the event, and a
/// checkpoint restore must not change outcomes). They are consulted only for
/// executions that complete a sequence, so a slow policy costs little.
pub trait TrustPolicy {
    /// `Some(reason)` when `process` is trusted and the sequence must not alert.
    fn assess(&self, process: &ProcessEvent<'_>) -> Option<TrustReason>;

    /// A policy that trusts what `self` **or** `other` trusts (`self` asked first).
    fn or<B: TrustPolicy>(self, other: B) -> Either<Self, B>
    where
        Self: Sized,
    {
        Either(self, other)
    }
}

impl<T: TrustPolicy + ?Sized> TrustPolicy for &T {
    fn assess(&self, process: &ProcessEvent<'_>) -> Option<TrustReason> {
        (**self).assess(process)
    }
}

impl<T: TrustPolicy + ?Sized> TrustPolicy for Box<T> {
    fn assess(&self, process: &ProcessEvent<'_>) -> Option<TrustReason> {
        (**self).assess(process)
    }
}

impl<T: TrustPolicy + ?Sized> TrustPolicy for Arc<T> {
    fn assess(&self, process: &ProcessEvent<'_>) -> Option<TrustReason> {
        (**self).assess(process)
    }
}

/// Trusts nothing: every completed sequence alerts.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrustNothing;

impl TrustPolicy for TrustNothing {
    fn assess(&self, _: &ProcessEvent<'_>) -> Option<TrustReason> {
        None
    }
}

/// Trusts what either policy trusts; made by [`TrustPolicy::or`].
#[derive(Clone, Debug, Default)]
pub struct Either<A, B>(pub A, pub B);

impl<A: TrustPolicy, B: TrustPolicy> TrustPolicy for Either<A, B> {
    fn assess(&self, process: &ProcessEvent<'_>) -> Option<TrustReason> {
        self.0.assess(process).or_else(|| self.1.assess(process))
    }
}

/// The signers the Elastic rule trusts (`process.code_signature.subject_name : (…)`).
pub const RULE_VENDORS: &[&str] = &[
    "Veeam Software Group GmbH",
    "Elasticsearch, Inc.",
    "PDQ.com Corporation",
    "CrowdStrike, Inc.",
    "Microsoft Windows Hardware Compatibility Publisher",
    "ZOHO Corporation Private Limited",
    "BeyondTrust Corporation",
    "CyberArk Software Ltd.",
    "Sophos Ltd",
];

/// The signers the threat-feed brief adds to the rule's list (the default policy has both).
pub const BRIEF_VENDORS: &[&str] = &[
    "AO Kaspersky Lab",
    "Anthropic, PBC",
    "Adobe Inc.",
    "Netwrix Corporation",
];

/// The rule's trusted executables (need `trusted == true`, any signer).
pub const RULE_TRUSTED_PATHS: &[&str] = &[
    "?:\\Windows\\ccmsetup\\ccmsetup.exe",
    "?:\\Windows\\SoftwareDistribution\\Download\\Install\\AM_Delta*.exe",
    "?:\\Windows\\CAInvokerService.exe",
];

/// The rule's SCCM boot executable exclusion: path pattern and the signer it needs.
pub const RULE_SIGNED_PATHS: &[(&str, &str)] =
    &[("G:\\SMS_*\\srvboot.exe", "Microsoft Corporation")];

#[derive(Clone, Debug)]
struct Vendor {
    pattern: Wildcard,
    reason: TrustReason,
}

#[derive(Clone, Debug)]
struct PathExclusion {
    executable: Wildcard,
    signer: Option<Wildcard>,
    reason: TrustReason,
}

/// The rule's three exclusions, with an adjustable vendor list and path exclusions.
///
/// Patterns compare ignoring the case of ASCII letters only, as Elasticsearch's `:`
/// does, in both semantics: Unicode folding would let a look-alike signer or path
/// (a KELVIN SIGN for a `K`) be trusted.
///
/// An execution is trusted when its `process.code_signature.trusted` is `true` and
/// - its `subject_name` matches a trusted vendor (`:`: whole string, case-insensitive,
///   `*`/`?` wildcards), or
/// - its `process.executable` matches a trusted path pattern that names no signer, or
/// - its `process.executable` matches a trusted path pattern and its `subject_name`
///   matches the signer that pattern names.
///
/// # Example
/// ```
/// use shareexec::{SignerPolicy, TrustPolicy, ProcessEvent, CodeSignature};
/// let policy = SignerPolicy::builder()
///     .vendor("Contoso Ltd")
///     .remove_vendor("Sophos Ltd")
///     .build();
/// let mut exec = ProcessEvent::default();
/// exec.code_signature = CodeSignature { trusted: Some(true), subject_name: Some("CONTOSO LTD"), ..Default::default() };
/// assert_eq!(policy.assess(&exec).unwrap().as_str(), "trusted signer \"Contoso Ltd\"");
/// exec.code_signature.subject_name = Some("Sophos Ltd");
/// assert!(policy.assess(&exec).is_none());
/// ```
#[derive(Clone, Debug)]
pub struct SignerPolicy {
    vendors: Vec<Vendor>,
    paths: Vec<PathExclusion>,
}

impl Default for SignerPolicy {
    /// The rule's exclusions with its vendor list plus the brief's four vendors.
    fn default() -> Self {
        SignerPolicy::builder()
            .vendors(BRIEF_VENDORS.iter().copied())
            .build()
    }
}

impl SignerPolicy {
    /// Exactly the Elastic rule's exclusions (for Elasticsearch conformance).
    pub fn elastic_rule() -> Self {
        SignerPolicy::builder().build()
    }

    /// The default: the rule's exclusions plus the vendors of the threat-feed brief.
    pub fn recommended() -> Self {
        SignerPolicy::default()
    }

    /// A builder that starts from the rule's own exclusions.
    pub fn builder() -> SignerPolicyBuilder {
        SignerPolicyBuilder {
            vendors: RULE_VENDORS.iter().map(|v| String::from(*v)).collect(),
            paths: RULE_TRUSTED_PATHS
                .iter()
                .map(|p| (String::from(*p), None))
                .chain(
                    RULE_SIGNED_PATHS
                        .iter()
                        .map(|(p, s)| (String::from(*p), Some(String::from(*s)))),
                )
                .collect(),
        }
    }

    /// A builder with no exclusions at all.
    pub fn empty_builder() -> SignerPolicyBuilder {
        SignerPolicyBuilder {
            vendors: Vec::new(),
            paths: Vec::new(),
        }
    }

    /// The trusted vendor patterns, in order.
    pub fn vendors(&self) -> impl Iterator<Item = &str> {
        self.vendors.iter().map(|v| v.pattern.as_str())
    }

    /// The trusted path patterns and the signer each needs, in order.
    pub fn paths(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.paths.iter().map(|p| {
            (
                p.executable.as_str(),
                p.signer.as_ref().map(Wildcard::as_str),
            )
        })
    }
}

impl TrustPolicy for SignerPolicy {
    fn assess(&self, process: &ProcessEvent<'_>) -> Option<TrustReason> {
        let sig = &process.code_signature;
        // Every exclusion requires `trusted == true`; missing is not true.
        if sig.trusted != Some(true) {
            return None;
        }
        if let Some(subject) = sig.subject_name
            && let Some(v) = self.vendors.iter().find(|v| v.pattern.matches(subject))
        {
            return Some(v.reason.clone());
        }
        let exe = process.executable?;
        self.paths
            .iter()
            .find(|p| {
                p.executable.matches(exe)
                    && match &p.signer {
                        None => true,
                        Some(s) => sig.subject_name.is_some_and(|n| s.matches(n)),
                    }
            })
            .map(|p| p.reason.clone())
    }
}

/// Builds a [`SignerPolicy`]; see [`SignerPolicy::builder`].
#[derive(Clone, Debug)]
pub struct SignerPolicyBuilder {
    vendors: Vec<String>,
    paths: Vec<(String, Option<String>)>,
}

impl SignerPolicyBuilder {
    /// Trusts executions signed (and trusted) by `subject` (a `:` pattern).
    pub fn vendor(mut self, subject: &str) -> Self {
        if !self.vendors.iter().any(|v| v == subject) {
            self.vendors.push(String::from(subject));
        }
        self
    }

    /// Trusts each of `subjects`.
    pub fn vendors<'s>(self, subjects: impl IntoIterator<Item = &'s str>) -> Self {
        subjects.into_iter().fold(self, |b, s| b.vendor(s))
    }

    /// Stops trusting `subject` (compared ignoring case).
    pub fn remove_vendor(mut self, subject: &str) -> Self {
        self.vendors.retain(|v| !crate::fold::eq_folded(v, subject));
        self
    }

    /// Trusts a trusted-signed executable matching `pattern`, whoever signed it.
    pub fn path(mut self, pattern: &str) -> Self {
        self.paths.push((String::from(pattern), None));
        self
    }

    /// Trusts an executable matching `pattern` when trusted-signed by `subject`.
    pub fn path_signed_by(mut self, pattern: &str, subject: &str) -> Self {
        self.paths
            .push((String::from(pattern), Some(String::from(subject))));
        self
    }

    /// Removes every path exclusion whose pattern equals `pattern` ignoring case.
    pub fn remove_path(mut self, pattern: &str) -> Self {
        self.paths
            .retain(|(p, _)| !crate::fold::eq_folded(p, pattern));
        self
    }

    /// The finished policy.
    pub fn build(self) -> SignerPolicy {
        SignerPolicy {
            vendors: self
                .vendors
                .iter()
                .map(|v| Vendor {
                    pattern: Wildcard::new(v),
                    reason: TrustReason::new(format!("trusted signer \"{v}\"")),
                })
                .collect(),
            paths: self
                .paths
                .iter()
                .map(|(p, s)| PathExclusion {
                    executable: Wildcard::new(p),
                    signer: s.as_deref().map(Wildcard::new),
                    reason: TrustReason::new(match s {
                        None => format!("trusted executable \"{p}\""),
                        Some(s) => format!("trusted executable \"{p}\" signed by \"{s}\""),
                    }),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::CodeSignature;

    fn exec<'a>(exe: &'a str, trusted: Option<bool>, subject: Option<&'a str>) -> ProcessEvent<'a> {
        ProcessEvent {
            executable: Some(exe),
            code_signature: CodeSignature {
                trusted,
                subject_name: subject,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn rule_exclusions() {
        let p = SignerPolicy::elastic_rule();
        let x = "C:\\x.exe";
        assert!(p.assess(&exec(x, Some(true), Some("sophos ltd"))).is_some());
        assert!(
            p.assess(&exec(x, Some(false), Some("Sophos Ltd")))
                .is_none()
        );
        assert!(
            p.assess(&exec(x, None, Some("Sophos Ltd"))).is_none(),
            "missing trusted is not true"
        );
        assert!(
            p.assess(&exec(x, Some(true), Some("Sophos Ltd.")))
                .is_none(),
            "whole string"
        );
        assert!(
            p.assess(&exec(x, Some(true), Some("Adobe Inc."))).is_none(),
            "not in the rule's list"
        );
        assert!(
            SignerPolicy::default()
                .assess(&exec(x, Some(true), Some("Adobe Inc.")))
                .is_some()
        );
        let ccm = "E:\\Windows\\ccmsetup\\ccmsetup.exe";
        assert!(
            p.assess(&exec(ccm, Some(true), None)).is_some(),
            "path exclusion needs no signer"
        );
        assert!(p.assess(&exec(ccm, None, None)).is_none());
        let sms = "G:\\SMS_X\\srvboot.exe";
        assert!(
            p.assess(&exec(sms, Some(true), Some("Microsoft Corporation")))
                .is_some()
        );
        assert!(p.assess(&exec(sms, Some(true), Some("Evil"))).is_none());
        assert!(
            p.assess(&exec(
                "C:\\SMS_X\\srvboot.exe",
                Some(true),
                Some("Microsoft Corporation")
            ))
            .is_none()
        );
    }

    #[test]
    fn builder_and_combinators() {
        let p = SignerPolicy::builder()
            .remove_path("?:\\windows\\ccmsetup\\ccmsetup.exe")
            .build();
        assert!(
            p.assess(&exec(
                "C:\\Windows\\ccmsetup\\ccmsetup.exe",
                Some(true),
                None
            ))
            .is_none()
        );
        let custom = |e: &ProcessEvent<'_>| e.executable == Some("C:\\ok.exe");
        struct Fn_<F>(F);
        impl<F: Fn(&ProcessEvent<'_>) -> bool> TrustPolicy for Fn_<F> {
            fn assess(&self, e: &ProcessEvent<'_>) -> Option<TrustReason> {
                (self.0)(e).then(|| TrustReason::new("custom"))
            }
        }
        let both = TrustNothing.or(Fn_(custom));
        assert_eq!(
            both.assess(&exec("C:\\ok.exe", None, None))
                .unwrap()
                .as_str(),
            "custom"
        );
        assert!(both.assess(&exec("C:\\no.exe", None, None)).is_none());
        assert_eq!(
            SignerPolicy::default().vendors().count(),
            RULE_VENDORS.len() + BRIEF_VENDORS.len()
        );
    }
}
