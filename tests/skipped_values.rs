//! A value nobody reads changes nothing: generated ECS and Sysmon documents decode to
//! the same record (or the same kind of error) with and without members of unknown
//! keys, holding any JSON (numbers of every shape and size next to structural bytes,
//! strings full of digits, quotes and escapes, lone surrogates, deep nesting), while
//! the read fields hold floats (a keyword such as `host.id` as `1.5`: the slow pass,
//! whose number texts must stay aligned) or lone surrogates (the slow pass on the
//! rewritten text). Also: the slow pass equals the fast pass on the same text, checked
//! by making a line's first member a lone surrogate in a read field.
#![cfg(feature = "json")]

use shareexec::input::{EcsRecord, decode_sysmon_events, decode_sysmon_line};

mod support;

/// xorshift64: the same documents every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "4",
    "-4",
    "12345678901234567890123",
    "1e400",
    "-1E+400",
    "2.5",
    "-0.0",
    "1e-5",
    "0.5e+3",
    "7E3",
    "1E999",
    "4.0",
    "18446744073709551616",
];
const STRINGS: &[&str] = &[
    r#""""#,
    r#""123""#,
    r#""-1e5""#,
    r#""a\"1\"b""#,
    r#""\\""#,
    r#""\\\"2""#,
    r#""\u0031\u002d""#,
    r#""\ud800""#,
    r#""\udc00 5""#,
    r#""é9""#,
    r#""]}1,""#,
];
const KEYS: &[&str] = &["x", "1", "-2", "1e5", "a\\\"3", "#attributes", "0.5"];
const SPACES: &[&str] = &["", "", "", " ", "\n", "\t "];

fn value(r: &mut Rng, depth: u32) -> String {
    match r.below(if depth > 3 { 3 } else { 6 }) {
        0 => r.pick(NUMBERS).to_owned(),
        1 => r.pick(STRINGS).to_owned(),
        2 => r.pick(&["true", "false", "null"]).to_owned(),
        3 => {
            let items: Vec<String> = (0..r.below(4))
                .map(|_| format!("{}{}", value(r, depth + 1), r.pick(SPACES)))
                .collect();
            format!("[{}]", items.join(","))
        }
        4 => {
            let items: Vec<String> = (0..r.below(4))
                .map(|_| {
                    format!(
                        "\"{}\":{}{}",
                        r.pick(KEYS),
                        r.pick(SPACES),
                        value(r, depth + 1)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
        _ => {
            let depth = [3, 130, 300][r.below(3)];
            format!(
                "{}{}{}",
                "[".repeat(depth),
                r.pick(NUMBERS),
                "]".repeat(depth)
            )
        }
    }
}

/// `template` with each `$` the next slot's pick, and each `J` an unknown member
/// (`"k":v,`) in the first text, nothing in the second.
fn render(r: &mut Rng, template: &str, slots: &[&[&str]]) -> (String, String) {
    let (mut with, mut without) = (String::new(), String::new());
    let mut slot = 0;
    for c in template.chars() {
        match c {
            'J' if r.below(3) > 0 => {
                let member = format!("\"{}\":{},{}", r.pick(KEYS), value(r, 0), r.pick(SPACES));
                with.push_str(&member);
            }
            'J' => {}
            '$' => {
                let v = r.pick(slots[slot]);
                slot += 1;
                with.push_str(v);
                without.push_str(v);
            }
            c => {
                with.push(c);
                without.push(c);
            }
        }
    }
    (with, without)
}

#[test]
fn ecs_skipped_members_change_no_record() {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let template = r#"{J"@timestamp":$,J"host":{J"id":$,J"name":$},J"process":{J"pid":$,J"name":$},J"file":{J"path":$},J"event":{J"category":$,J"type":$,J"x":{J"y":1}}}"#;
    let slots: &[&[&str]] = &[
        &[
            r#""2024-01-03T14:00:00Z""#,
            "1704290400000",
            "1704290400000.5",
        ],
        &[r#""h1""#, "1.5", "7", "-0", r#""\ud800x""#, "null"],
        &["2.50", r#""n""#, "-0.0"],
        &["4", "4.0", r#""4""#, "[4,5]", "40e-1"],
        &["0.125", r#""p""#, "1E3"],
        &[r#""C:\\x.exe""#, "-4.5e1"],
        &[r#""file""#, r#"["file","process"]"#, "5"],
        &[r#""creation""#, r#"[1.5,"change"]"#],
    ];
    let mut accepted = 0;
    for _ in 0..20_000 {
        let (with, without) = render(&mut r, template, slots);
        match (
            EcsRecord::parse(with.as_bytes()),
            EcsRecord::parse(without.as_bytes()),
        ) {
            (Ok(a), Ok(b)) => {
                accepted += 1;
                assert_eq!(a, b, "\n{with}\n{without}");
            }
            (Err(a), Err(b)) => assert_eq!(a.kind, b.kind, "\n{with}\n{without}"),
            (a, b) => panic!("\n{with}\n  {a:?}\n{without}\n  {b:?}"),
        }
    }
    assert!(accepted > 5_000, "{accepted}");
}

#[test]
fn sysmon_skipped_members_change_no_record() {
    let mut r = Rng(0x1234_5678_8765_4321);
    let template = r##"{J"EventID":$,J"UtcTime":"2024-01-03 14:00:00.000",J"Computer":$,J"Image":{J"#text":$,J"z":0},J"ProcessId":$,J"TargetFilename":$,J"Event":{J"EventData":{J"Data":[{J"@Name":"Hashes",J"#text":$}]}},J"end":0}"##;
    let slots: &[&[&str]] = &[
        &["1", "11", "13", r#""23""#],
        &["1.25", r#""WS1""#, r#""\ud800""#, "7"],
        &["0.5", r#""C:\\x.exe""#, "[0.5]", r##"{"#text":2.5}"##],
        &["4", "4.0", r#""4""#, "null"],
        &[r#""C:\\a.exe""#, "3.5", "[1.5]"],
        &[r#""SHA256=AA""#, "2.25"],
    ];
    let mut accepted = 0;
    for _ in 0..20_000 {
        let (with, without) = render(&mut r, template, slots);
        for decode in [decode_sysmon_line, decode_sysmon_events] {
            match (decode(with.as_bytes()), decode(without.as_bytes())) {
                (Ok(a), Ok(b)) => {
                    accepted += 1;
                    assert_eq!(a, b, "\n{with}\n{without}");
                }
                (Err(a), Err(b)) => assert_eq!(a.kind, b.kind, "\n{with}\n{without}"),
                (a, b) => panic!("\n{with}\n  {a:?}\n{without}\n  {b:?}"),
            }
        }
    }
    assert!(accepted > 10_000, "{accepted}");
}

/// The slow pass reads a text as the fast one does: a line whose first member is a
/// lone surrogate in a read field (the fast pass fails there, the slow one runs on
/// the text with `\ufffd` in its place) decodes exactly as the line with `\ufffd`
/// written (record, or error and column), for every third line of every fixture
/// corpus, whole and cut short.
#[test]
fn slow_pass_equals_fast_pass_on_fixture_lines() {
    let mut compared = 0;
    for path in support::fixture_corpora() {
        let bytes = support::read_maybe_gz(&path);
        for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
            // Every third line, whole and cut short somewhere.
            let Some(rest) = line.strip_prefix(b"{").filter(|_| n % 3 == 0) else {
                continue;
            };
            let cuts = [rest.len(), n % rest.len().max(1)];
            for rest in cuts.map(|cut| &rest[..cut]) {
                let sep: &[u8] = if rest.first() == Some(&b'}') {
                    b""
                } else {
                    b","
                };
                let make = |member: &str| [member.as_bytes(), sep, rest].concat();
                let (fast, slow) = (
                    make(r#"{"host.name":"\ufffd""#),
                    make(r#"{"host.name":"\ud800""#),
                );
                let shown = String::from_utf8_lossy(&fast);
                assert_eq!(EcsRecord::parse(&fast), EcsRecord::parse(&slow), "{shown}");
                let (fast, slow) = (
                    make(r#"{"Computer":"\ufffd""#),
                    make(r#"{"Computer":"\ud800""#),
                );
                let shown = String::from_utf8_lossy(&fast);
                assert_eq!(
                    decode_sysmon_line(&fast),
                    decode_sysmon_line(&slow),
                    "{shown}"
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 5_000, "{compared}");
}
