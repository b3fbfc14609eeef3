//! Bytes per second of ECS NDJSON through decode and detect, beside the parse floors,
//! with the prefilter off and on; and Sysmon decoding.
//!
//! Group `ndjson_defend`: the oracle generator's Elastic Defend mix
//! (`tests/fixtures/gen/defend-100k.ndjson.gz`, 100 000 lines, 77 MB, about half of
//! them process starts), decompressed and split into lines once, untimed. Members, all
//! over the same lines, so the ratios are visible in one run:
//!
//! - `ignored_any`: `serde_json` validating and skipping each line (`IgnoredAny`), the
//!   floor of any full parse;
//! - `typed_serde`: `serde_json` into a plain `#[derive(Deserialize)]` struct with
//!   borrowed `Cow` fields for the rule's fields, nested as ECS writes them (the bare
//!   typed parse);
//! - `decode`: [`EcsRecord::parse`] alone;
//! - `prefilter_scan`: [`Prefilter::scan`] alone (no decode, no detector);
//! - `byte_search`: [`lacks_rule_category`] alone, the byte search that
//!   [`Prefilter::screen`] runs on every line before any walk;
//! - `es0_prefilter_off` / `_validating` / `_fast`: decode + detect through
//!   [`EcsPipeline`] with [`Prefiltering`] off, validating (the command line's
//!   default: skips only lines it validated) and fast (also skips lines on the byte
//!   search alone), Elasticsearch semantics, lateness 0 (where the process-start fast
//!   path applies), verdicts drained;
//! - `cli_prefilter_off` / `_validating` / `_fast`: the same with the command line's
//!   default configuration (hardened semantics, lateness 10 s): every candidate is
//!   held for reordering there, so only the skipping pays.
//!
//! Group `sysmon`: [`decode_sysmon_line`] (`decode`: every record built) and
//! [`decode_sysmon_events`] (`decode_events`: what the command line runs, a record that
//! makes no event only checked) over the Sysmon fixtures, beside serde's `IgnoredAny`.
//!
//! Run: `cargo bench --bench ndjson` (or `-- ndjson_defend/` for one group).

use std::borrow::Cow;
use std::hint::black_box;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;
use shareexec::input::{
    EcsPipeline, EcsRecord, Prefilter, Prefiltering, decode_sysmon_events, decode_sysmon_line,
    lacks_rule_category,
};
use shareexec::{Config, Detector, Rule, Span};

fn read_lines(path: &str) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .expect("gzip");
        out
    } else {
        bytes
    }
}

fn split(text: &[u8]) -> Vec<&[u8]> {
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

// The bare typed parse: the rule's fields, nested as Elastic Defend writes them.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Doc<'a> {
    #[serde(rename = "@timestamp", borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    event: Option<EventFields<'a>>,
    #[serde(borrow)]
    host: Option<HostFields<'a>>,
    #[serde(borrow)]
    process: Option<ProcessFields<'a>>,
    #[serde(borrow)]
    file: Option<FileFields<'a>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct EventFields<'a> {
    #[serde(borrow, default)]
    category: Vec<Cow<'a, str>>,
    #[serde(rename = "type", borrow, default)]
    types: Vec<Cow<'a, str>>,
    sequence: Option<u64>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct HostFields<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    os: Option<OsFields<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct OsFields<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct ProcessFields<'a> {
    pid: Option<i64>,
    #[serde(borrow)]
    executable: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    code_signature: Option<SignatureFields<'a>>,
    #[serde(borrow)]
    hash: Option<HashFields<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct SignatureFields<'a> {
    exists: Option<bool>,
    trusted: Option<bool>,
    #[serde(borrow)]
    subject_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct HashFields<'a> {
    #[serde(borrow)]
    sha256: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sha1: Option<Cow<'a, str>>,
    #[serde(borrow)]
    md5: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct FileFields<'a> {
    #[serde(borrow)]
    path: Option<Cow<'a, str>>,
    #[serde(borrow)]
    extension: Option<Cow<'a, str>>,
    #[serde(rename = "Ext", borrow)]
    ext: Option<ExtFields<'a>>,
    #[serde(borrow)]
    hash: Option<HashFields<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct ExtFields<'a> {
    #[serde(borrow)]
    header_bytes: Option<Cow<'a, str>>,
}

/// Every line through a fresh pipeline; the alert count, checked against the
/// prefilter-off run so that a fast wrong answer cannot pass for a fast right one.
fn run_pipeline(lines: &[&[u8]], rule: &Arc<Rule>, config: &Config, mode: Prefiltering) -> u64 {
    let detector = Detector::new(rule.clone(), config.clone()).expect("config");
    let mut pipeline = EcsPipeline::new(detector, mode);
    let mut verdicts = 0u64;
    for (n, line) in lines.iter().enumerate() {
        let _ = black_box(pipeline.feed(line, n as u64));
        verdicts += pipeline.detector_mut().drain_verdicts().count() as u64;
    }
    pipeline.detector_mut().flush();
    verdicts + pipeline.detector_mut().drain_verdicts().count() as u64
}

fn bench(c: &mut Criterion) {
    let text = read_lines(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gen/defend-100k.ndjson.gz"
    ));
    let lines = split(&text);
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();

    let es = Arc::new(Rule::elasticsearch());
    let es0 = Config::default().with_max_lateness(Span::ZERO);
    let hardened = Arc::new(Rule::hardened());
    let cli = Config::default().with_max_lateness(Span::from_secs(10));
    for (rule, config) in [(&es, &es0), (&hardened, &cli)] {
        assert_eq!(
            run_pipeline(&lines, rule, config, Prefiltering::Off),
            run_pipeline(&lines, rule, config, Prefiltering::Validating),
            "the prefilter changed the verdicts"
        );
        assert_eq!(
            run_pipeline(&lines, rule, config, Prefiltering::Off),
            run_pipeline(&lines, rule, config, Prefiltering::Fast),
            "the prefilter changed the verdicts"
        );
    }

    let mut group = c.benchmark_group("ndjson_defend");
    group
        .throughput(Throughput::Bytes(bytes as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("ignored_any", |b| {
        b.iter(|| {
            for line in &lines {
                let _ = black_box(serde_json::from_slice::<serde::de::IgnoredAny>(line));
            }
        })
    });
    group.bench_function("typed_serde", |b| {
        b.iter(|| {
            for line in &lines {
                let _ = black_box(serde_json::from_slice::<Doc<'_>>(line).is_ok());
            }
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            for line in &lines {
                let _ = black_box(EcsRecord::parse(line).is_ok());
            }
        })
    });
    group.bench_function("prefilter_scan", |b| {
        let mut prefilter = Prefilter::new();
        b.iter(|| {
            for line in &lines {
                black_box(prefilter.scan(line).is_some());
            }
        })
    });
    group.bench_function("byte_search", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(lacks_rule_category(line));
            }
        })
    });
    for (name, rule, config, mode) in [
        ("es0_prefilter_off", &es, &es0, Prefiltering::Off),
        (
            "es0_prefilter_validating",
            &es,
            &es0,
            Prefiltering::Validating,
        ),
        ("es0_prefilter_fast", &es, &es0, Prefiltering::Fast),
        ("cli_prefilter_off", &hardened, &cli, Prefiltering::Off),
        (
            "cli_prefilter_validating",
            &hardened,
            &cli,
            Prefiltering::Validating,
        ),
        ("cli_prefilter_fast", &hardened, &cli, Prefiltering::Fast),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| black_box(run_pipeline(&lines, rule, config, mode)))
        });
    }
    group.finish();

    let sysmon: Vec<Vec<u8>> = [
        "otrf__cmd_psexec_lsa_secrets_dump.sysmon.ndjson.gz",
        "otrf__covenant_copy_smb_CreateRequest.sysmon.ndjson.gz",
        "psexec-tp.evtx.ndjson",
        "psexec-tp.otrf.ndjson",
        "psexec-tp.winlogbeat.ndjson",
    ]
    .iter()
    .map(|name| {
        read_lines(&format!(
            "{}/tests/fixtures/sysmon/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
    })
    .collect();
    let sysmon_lines: Vec<&[u8]> = sysmon.iter().flat_map(|t| split(t)).collect();
    let sysmon_bytes: usize = sysmon_lines.iter().map(|l| l.len() + 1).sum();
    let mut group = c.benchmark_group("sysmon");
    group
        .throughput(Throughput::Bytes(sysmon_bytes as u64))
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    group.bench_function("ignored_any", |b| {
        b.iter(|| {
            for line in &sysmon_lines {
                let _ = black_box(serde_json::from_slice::<serde::de::IgnoredAny>(line));
            }
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            for line in &sysmon_lines {
                let _ = black_box(decode_sysmon_line(line).is_ok());
            }
        })
    });
    group.bench_function("decode_events", |b| {
        b.iter(|| {
            for line in &sysmon_lines {
                let _ = black_box(decode_sysmon_events(line).is_ok());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
