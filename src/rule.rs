//! The compiled rule: stage predicates, semantics and trust policy, immutable.
//!
//! A [`Rule`] is built once and shared (`Arc<Rule>`) by any number of
//! [`Detector`](crate::Detector)s, which own all mutable state — the split that
//! regex-automata makes between a regex and its `Cache`. It is `Send + Sync` whenever
//! its policy is.

use crate::event::{EventTypes, FileEvent, ProcessEvent};
use crate::fold::eq_folded;
use crate::time::Span;
use crate::trust::{SignerPolicy, TrustPolicy, TrustReason};
use crate::wildcard::{CaseMode, Wildcard, WildcardSet};

/// How faithfully to follow Elasticsearch, where it can be evaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Semantics {
    /// Identical results to Elasticsearch on the time-sorted stream: join keys and
    /// `==` compared exactly (case-sensitive), equal timestamps ordered by arrival
    /// (standing in for Elasticsearch's storage-layout tiebreak).
    Elasticsearch,
    /// Everything Elasticsearch alerts on plus the documented evasions: paths join
    /// ignoring case (simple case folding), `host.os.type` compared ignoring case,
    /// `file.extension` taken from `file.path` when the field is missing, and equal
    /// timestamps ordered by `event.sequence` where events carry it.
    #[default]
    Hardened,
}

impl Semantics {
    /// `elasticsearch` or `hardened`.
    pub const fn name(self) -> &'static str {
        match self {
            Semantics::Elasticsearch => "elasticsearch",
            Semantics::Hardened => "hardened",
        }
    }
}

/// A MITRE ATT&CK entry: identifier, name and reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mitre {
    /// `TA0008`, `T1021`, …
    pub id: &'static str,
    /// Human name.
    pub name: &'static str,
    /// Reference URL.
    pub reference: &'static str,
}

/// What every alert says about the rule that raised it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleMeta {
    /// Elastic `rule_id`.
    pub id: &'static str,
    /// Rule name.
    pub name: &'static str,
    /// Severity.
    pub severity: &'static str,
    /// Elastic risk score.
    pub risk_score: u8,
    /// Where the rule is documented.
    pub reference: &'static str,
    /// MITRE tactic.
    pub tactic: Mitre,
    /// MITRE technique.
    pub technique: Mitre,
    /// MITRE sub-technique.
    pub subtechnique: Mitre,
    /// The sequence's `maxspan`, inclusive.
    pub maxspan: Span,
}

/// The rule this crate implements.
pub static RULE: RuleMeta = RuleMeta {
    id: "ab75c24b-2502-43a0-bf7c-e60e662c811e",
    name: "Remote Execution via File Shares",
    severity: "medium",
    risk_score: 47,
    reference: "https://github.com/elastic/detection-rules/blob/main/rules/windows/lateral_movement_execution_via_file_shares_sequence.toml",
    tactic: Mitre {
        id: "TA0008",
        name: "Lateral Movement",
        reference: "https://attack.mitre.org/tactics/TA0008/",
    },
    technique: Mitre {
        id: "T1021",
        name: "Remote Services",
        reference: "https://attack.mitre.org/techniques/T1021/",
    },
    subtechnique: Mitre {
        id: "T1021.002",
        name: "SMB/Windows Admin Shares",
        reference: "https://attack.mitre.org/techniques/T1021/002/",
    },
    maxspan: Span::from_secs(60),
};

/// The executable extensions of stage 1 (`file.extension : (…)`).
pub const EXECUTABLE_EXTENSIONS: &[&str] = &["exe", "scr", "pif", "com"];
/// The MZ header pattern of stage 1 (`file.Ext.header_bytes : "4d5a*"`).
pub const MZ_HEADER: &str = "4d5a*";
/// The System process: a write by it arrived over SMB.
pub const SYSTEM_PID: i64 = 4;

/// The compiled detection: semantics, stage predicates and trust policy.
///
/// # Example
/// ```
/// use shareexec::{Rule, FileEvent, EventTypes};
/// let rule = Rule::elasticsearch();
/// let write = FileEvent {
///     host_id: Some("h1"), os_type: Some("windows"), types: EventTypes::CREATION,
///     pid: Some(4), path: Some("C:\\x.exe"), extension: Some("exe"), ..Default::default()
/// };
/// assert!(rule.is_write(&write));
/// ```
#[derive(Clone, Debug)]
pub struct Rule<P = SignerPolicy> {
    semantics: Semantics,
    extensions: WildcardSet,
    header: Wildcard,
    policy: P,
}

impl Rule<SignerPolicy> {
    /// Elasticsearch semantics with exactly the rule's own trust list.
    pub fn elasticsearch() -> Self {
        Rule::with_policy(Semantics::Elasticsearch, SignerPolicy::elastic_rule())
    }

    /// Hardened semantics with the recommended trust list (the default).
    pub fn hardened() -> Self {
        Rule::with_policy(Semantics::Hardened, SignerPolicy::recommended())
    }

    /// `semantics` with its natural policy: the rule's list for Elasticsearch, the
    /// recommended list for Hardened.
    pub fn new(semantics: Semantics) -> Self {
        match semantics {
            Semantics::Elasticsearch => Rule::elasticsearch(),
            _ => Rule::hardened(),
        }
    }
}

impl Default for Rule<SignerPolicy> {
    fn default() -> Self {
        Rule::hardened()
    }
}

impl<P: TrustPolicy> Rule<P> {
    /// `semantics` with a policy of the caller's choosing.
    pub fn with_policy(semantics: Semantics, policy: P) -> Self {
        // `:` folds ASCII only in Elasticsearch; hardened folds as NTFS compares names.
        let case = match semantics {
            Semantics::Elasticsearch => CaseMode::Ascii,
            _ => CaseMode::Unicode,
        };
        Rule {
            semantics,
            extensions: WildcardSet::with_case(EXECUTABLE_EXTENSIONS.iter().copied(), case),
            header: Wildcard::with_case(MZ_HEADER, case),
            policy,
        }
    }

    /// The semantics.
    pub fn semantics(&self) -> Semantics {
        self.semantics
    }

    /// The trust policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The rule's metadata.
    pub fn meta(&self) -> &'static RuleMeta {
        &RULE
    }

    fn is_windows(&self, os_type: Option<&str>) -> bool {
        match (self.semantics, os_type) {
            (_, None) => false,
            (Semantics::Elasticsearch, Some(t)) => t == "windows",
            (_, Some(t)) => eq_folded(t, "windows"),
        }
    }

    /// Stage 1 without the join key: a Windows file created or changed by the
    /// System process (pid 4) that is an executable by extension or by MZ header.
    #[inline]
    pub fn is_write(&self, e: &FileEvent<'_>) -> bool {
        // Inlined: a conjunction of pure tests, cheapest and most selective first.
        // Most file events are by other processes, and the pid settles them where the
        // event lies, without a call; the text comparisons go on out of line.
        Self::is_writer(e.pid)
            && e.types
                .intersects(EventTypes::CREATION | EventTypes::CHANGE)
            && self.is_windows_executable(e)
    }

    /// The first test of [`is_write`](Self::is_write): the file event is by the System
    /// process. Its own function so that the prefilter's decision tests the pid by the
    /// same definition.
    #[inline(always)]
    pub(crate) fn is_writer(pid: Option<i64>) -> bool {
        pid == Some(SYSTEM_PID)
    }

    /// The rest of [`is_write`](Self::is_write): the text comparisons.
    #[inline(never)]
    fn is_windows_executable(&self, e: &FileEvent<'_>) -> bool {
        self.is_windows(e.os_type)
            && (self.has_executable_extension(e)
                || e.header_bytes.is_some_and(|h| self.header.matches(h)))
    }

    fn has_executable_extension(&self, e: &FileEvent<'_>) -> bool {
        match (e.extension, self.semantics) {
            (Some(ext), _) => self.extensions.matches(ext),
            (None, Semantics::Elasticsearch) => false,
            // Hardened: a missing `file.extension` is read off the path, so a sensor
            // that omits the field cannot hide an `.exe`.
            (None, _) => e
                .path
                .and_then(path_extension)
                .is_some_and(|ext| self.extensions.matches(ext)),
        }
    }

    /// Stage 2 before the trust policy: a Windows process start.
    pub fn is_execution(&self, e: &ProcessEvent<'_>) -> bool {
        // The flag test first: it settles process ends without comparing text.
        e.types.intersects(EventTypes::START) && self.is_windows(e.os_type)
    }

    /// The trust policy's verdict on an execution that completes a sequence.
    pub fn assess(&self, e: &ProcessEvent<'_>) -> Option<TrustReason> {
        self.policy.assess(e)
    }
}

/// The extension of the last component of a Windows path, without the dot.
pub(crate) fn path_extension(path: &str) -> Option<&str> {
    let name = path.rsplit(['\\', '/']).next()?;
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() || !ext.is_empty()).then_some(ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_from_path() {
        assert_eq!(path_extension("C:\\a\\b.EXE"), Some("EXE"));
        assert_eq!(path_extension("C:\\a.d\\b"), None);
        assert_eq!(path_extension("b.tar.gz"), Some("gz"));
    }

    #[test]
    fn rule_is_send_sync() {
        fn is<T: Send + Sync>() {}
        is::<Rule>();
    }
}
