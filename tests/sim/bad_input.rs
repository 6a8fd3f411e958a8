//! Bad scenario files exit 2 with `file:line:column: `key.path`: message`,
//! and never panic.

use crate::common::bin;
use std::process::Command;

/// (file under tests/bad, key path, line, words the message must contain)
const CASES: &[(&str, &str, usize, &str)] = &[
    ("unknown_key.toml", "source.pagesize", 8, "expected one of"),
    ("page_size_zero.toml", "source.page_size", 8, "nonzero"),
    ("negative_rate.toml", "source.messages_per_day", 7, ">= 0"),
    (
        "interval_zero.toml",
        "consumer.poll_interval",
        11,
        "greater than zero",
    ),
    ("bad_duration.toml", "horizon", 3, "unknown unit"),
    ("wrong_type.toml", "source.mailboxes", 6, "invalid type"),
    (
        "unknown_strategy.toml",
        "consumer.strategy",
        10,
        "expected one of `poll`, `webhook`, `hybrid`",
    ),
    ("mix_sum.toml", "source.mix", 8, "sum to 1"),
    (
        "latency_inverted.toml",
        "source.api_latency",
        8,
        "p99 >= median",
    ),
    (
        "burst_outside.toml",
        "source.bursts[0].at",
        10,
        "at < horizon",
    ),
    (
        "burst_unknown_mailbox.toml",
        "source.bursts[0].mailboxes",
        11,
        "names mailbox 12",
    ),
    (
        "jitter_too_big.toml",
        "consumer.poll_jitter",
        12,
        "smaller than poll_interval",
    ),
    (
        "missing_interval.toml",
        "consumer.poll_interval",
        9,
        "needs poll_interval",
    ),
    ("fault_missing_for.toml", "faults[0].for", 13, "needs `for`"),
    (
        "fault_unknown_kind.toml",
        "faults[0].kind",
        14,
        "source_outage",
    ),
    ("missing_source.toml", "source", 1, "missing field"),
    (
        "diurnal_short.toml",
        "source.diurnal",
        8,
        "24 hourly weights",
    ),
    ("unknown_key.json", "source.colour", 5, "unknown field"),
    ("too_big.toml", "source.messages_per_day", 7, "at most 1e9"),
    (
        "unknown_preset.toml",
        "webhooks.preset",
        9,
        "expected one of nylas, svix",
    ),
    (
        "custom_needs_retries.toml",
        "webhooks.retries",
        8,
        "needs `retries`",
    ),
    (
        "fault_key_not_for_kind.toml",
        "faults[0].max_delay",
        17,
        "does not apply to drop",
    ),
    (
        "webhook_without_section.toml",
        "consumer.strategy",
        9,
        "needs a [webhooks] section",
    ),
    (
        "squeeze_factor_too_big.toml",
        "faults[0].factor",
        18,
        "0 < factor < 1",
    ),
    (
        "bad_outage_mode.toml",
        "faults[0].mode",
        16,
        "`refused`, `503`, `hang`",
    ),
    (
        "threshold_unknown_path.toml",
        "thresholds.changes.lostt",
        14,
        "did you mean",
    ),
    (
        "threshold_bad_condition.toml",
        "thresholds.changes.lost",
        14,
        "has no comparison",
    ),
    (
        "hybrid_without_lookback.toml",
        "consumer.lookback",
        12,
        "needs lookback",
    ),
    (
        "poll_too_often.toml",
        "consumer.poll_interval",
        11,
        "at most 5e9",
    ),
];

fn check(file: &str, args: &[&str]) -> (i32, String) {
    let path = format!("{}/tests/bad/{file}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(bin()).args(args).arg(&path).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_bad_file_names_file_line_key_and_rule() {
    for &(file, key, line, words) in CASES {
        for cmd in [&["validate"][..], &["run"][..]] {
            let (code, err) = check(file, cmd);
            assert_eq!(code, 2, "{file} {cmd:?}: {err}");
            assert!(
                err.contains(&format!("{file}:{line}:")),
                "{file}: want line {line}: {err}"
            );
            assert!(
                err.contains(&format!("`{key}`")),
                "{file}: want key {key}: {err}"
            );
            assert!(err.contains(words), "{file}: want {words:?}: {err}");
            assert!(!err.contains("panicked"), "{file}: {err}");
        }
    }
}

#[test]
fn syntax_errors_give_line_and_column() {
    let (code, err) = check("syntax_error.toml", &["validate"]);
    assert_eq!(code, 2);
    assert!(err.contains("syntax_error.toml:1:"), "{err}");
}

#[test]
fn missing_file_is_bad_input_not_a_panic() {
    let out = Command::new(bin())
        .args(["run", "/nonexistent/none.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn every_file_in_tests_bad_is_covered() {
    let dir = format!("{}/tests/bad", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    for f in files {
        assert!(
            f == "syntax_error.toml" || CASES.iter().any(|c| c.0 == f),
            "{f} has no expectation"
        );
    }
}
