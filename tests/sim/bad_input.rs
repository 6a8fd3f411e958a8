//! Bad scenario files exit 2 with `file:line:column: `key.path`: message`,
//! and never panic.

use crate::common::bin;
use std::process::Command;

/// (file under tests/bad, key path, line, words the message must contain)
const CASES: &[(&str, &str, usize, &str)] = &[
    (
        "renew_not_shorter.toml",
        "consumer.renew_every",
        14,
        "not shorter than the subscription lifetime",
    ),
    (
        "renew_without_expiry.toml",
        "consumer.renew_every",
        14,
        "no expiring subscriptions",
    ),
    (
        "renewal_failure_without_expiry.toml",
        "faults[0].kind",
        16,
        "subscriptions never expire",
    ),
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
    // Resource bombs: small files that size a huge allocation or loop.
    (
        "burst_mailboxes_huge.toml",
        "source.bursts[0].mailboxes",
        8,
        "names mailbox 4294967294 but the source has 10",
    ),
    (
        "workers_huge.toml",
        "consumer.workers",
        13,
        "at most 100000 are supported",
    ),
    (
        "attempts_huge.toml",
        "consumer.processing_attempts",
        14,
        "at most 1000 are supported",
    ),
    (
        "retries_too_many.toml",
        "webhooks.retries",
        12,
        "1001 retries; at most 1000",
    ),
    (
        "crash_every_microsecond.toml",
        "faults[0].every",
        14,
        "at most 1e6 are supported",
    ),
    ("horizon_huge.toml", "horizon", 3, "(10 years) supported"),
    (
        "generation_too_long.toml",
        "horizon",
        3,
        "mailbox-hours of traffic",
    ),
    (
        "spread_tail.toml",
        "source.spread",
        8,
        "over 1.726e10 changes (nominal mean ~1.000e7)",
    ),
];

/// The files of [`CASES`] that would allocate or loop without bound if
/// validation let them through.
const BOMBS: &[&str] = &[
    "burst_mailboxes_huge.toml",
    "workers_huge.toml",
    "attempts_huge.toml",
    "retries_too_many.toml",
    "crash_every_microsecond.toml",
    "horizon_huge.toml",
    "generation_too_long.toml",
    "spread_tail.toml",
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
            let at = format!("{file}:{line}:");
            let column = err
                .split_once(&at)
                .and_then(|(_, rest)| rest.split(':').next())
                .and_then(|c| c.parse::<usize>().ok());
            assert!(
                column.is_some_and(|c| c >= 1),
                "{file}: want line {line} and a column: {err}"
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

#[test]
fn bombs_are_refused_fast_in_process() {
    for file in BOMBS {
        let path = format!("{}/tests/bad/{file}", env!("CARGO_MANIFEST_DIR"));
        let started = std::time::Instant::now();
        let err = syncsim::scenario::load(std::path::Path::new(&path)).unwrap_err();
        let took = started.elapsed();
        assert!(took.as_secs_f64() < 1.0, "{file}: {took:?} to refuse");
        assert!(
            matches!(err, syncsim::scenario::ScenarioError::Invalid { .. }),
            "{err}"
        );
    }
}

/// Under a 256 MB address-space limit a bomb still gets its clear error
/// (exit 2), so validation allocates nothing in proportion to the bomb.
#[cfg(target_os = "linux")]
#[test]
fn bombs_are_refused_without_big_allocations() {
    for file in BOMBS {
        let path = format!("{}/tests/bad/{file}", env!("CARGO_MANIFEST_DIR"));
        for cmd in ["validate", "run"] {
            let out = Command::new("sh")
                .arg("-c")
                .arg("ulimit -v 262144 && exec \"$0\" \"$1\" \"$2\"")
                .args([bin(), cmd, &path])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{file} {cmd}: {err}");
            assert!(err.contains(&format!("{file}:")), "{file}: {err}");
            assert!(
                !err.contains("panicked") && !err.contains("memory allocation"),
                "{err}"
            );
        }
    }
}

/// A 100 KB value is echoed as its first 80 characters and its length,
/// wherever it appears; the message stays short and still names the key.
#[test]
fn long_values_are_truncated_in_messages() {
    let dir = crate::common::temp_dir("long-values");
    let long = "A".repeat(100_000);
    let base = |source: &str, consumer: &str, rest: &str| {
        format!(
            "name = \"t\"\nseed = 1\nhorizon = \"1d\"\n\n[source]\nmailboxes = 10\n{source}\n\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"5m\"\n{consumer}\n{rest}\n"
        )
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("duration.toml", base(&format!("retention = \"{long}\""), "", ""), "source.retention"),
        ("variant.toml", base(&format!("cursor = \"{long}\""), "", ""), "source.cursor"),
        ("wrong_type.toml", base(&format!("page_size = \"{long}\""), "", ""), "source.page_size"),
        ("unknown_key.toml", base(&format!("{long} = 1"), "", ""), "source."),
        ("lookback.toml", base("", &format!("lookback = \"{long}\""), ""), "consumer.lookback"),
        ("diurnal.toml", base(&format!("diurnal = \"{long}\""), "", ""), "source.diurnal"),
        (
            "preset.toml",
            base("", "", &format!("[webhooks]\npreset = \"{long}\"")),
            "webhooks.preset",
        ),
        (
            "threshold_path.toml",
            base("", "", &format!("[thresholds]\n\"{long}\" = \"< 1\"")),
            "thresholds.",
        ),
        (
            "threshold_value.toml",
            base("", "", &format!("[thresholds]\n\"changes.lost\" = \"< {long}\"")),
            "thresholds.changes.lost",
        ),
        (
            "spaced.toml",
            base(&format!("cursor = \"{}\"", "A ".repeat(50_000)), "", ""),
            "source.cursor",
        ),
        (
            "value.json",
            format!(
                "{{\"name\": \"t\", \"seed\": 1, \"horizon\": \"{long}\", \"source\": {{\"mailboxes\": 1}}, \"consumer\": {{\"strategy\": \"poll\", \"poll_interval\": \"5m\"}}}}"
            ),
            "horizon",
        ),
    ];
    for (name, text, key) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let out = Command::new(bin())
            .arg("validate")
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.len() < 1500,
            "{name}: {} bytes: {}",
            err.len(),
            &err[..2000.min(err.len())]
        );
        assert!(err.contains(&format!("{name}:")), "{name}: {err}");
        assert!(
            err.contains(&format!("`{key}")),
            "{name}: want key {key}: {err}"
        );
        assert!(err.contains('…'), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

const SMALL: &str = "name = \"t\"\nseed = 1\nhorizon = \"1h\"\n\n[source]\nmailboxes = 2\nmessages_per_day = 10\n\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"5m\"\n";

/// `run --out` onto a symlink writes the report to its target and keeps
/// the link.
#[cfg(unix)]
#[test]
fn out_writes_through_a_symlink() {
    let dir = crate::common::temp_dir("out-link");
    let scenario = dir.join("s.toml");
    std::fs::write(&scenario, SMALL).unwrap();
    std::fs::create_dir(dir.join("reports")).unwrap();
    let target = dir.join("reports/latest.json");
    std::fs::write(&target, "old").unwrap();
    let link = dir.join("latest.json");
    std::os::unix::fs::symlink("reports/latest.json", &link).unwrap();
    let out = Command::new(bin())
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&link)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let json = std::fs::read_to_string(&target).unwrap();
    assert!(
        json.starts_with('{') && json.contains("\"changes\""),
        "{json}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// `run --out` refuses a directory or a device node, names it, and leaves
/// it (and no temporary file) behind.
#[cfg(unix)]
#[test]
fn out_refuses_directories_and_devices() {
    let dir = crate::common::temp_dir("out-special");
    let scenario = dir.join("s.toml");
    std::fs::write(&scenario, SMALL).unwrap();
    let folder = dir.join("folder");
    std::fs::create_dir(&folder).unwrap();
    let mut targets = vec![(folder.clone(), "a directory")];
    // A private null device when we may make one (root); the real
    // /dev/null otherwise, where only refusing is safe either way.
    let null = dir.join("null");
    let made = Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .status();
    let null = if made.is_ok_and(|s| s.success()) {
        null
    } else {
        "/dev/null".into()
    };
    let link = dir.join("to-null");
    std::os::unix::fs::symlink(&null, &link).unwrap();
    targets.push((null.clone(), "a character device"));
    targets.push((link, "a character device"));
    for (target, what) in targets {
        let out = Command::new(bin())
            .arg("run")
            .arg(&scenario)
            .arg("--out")
            .arg(&target)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{}: {err}", target.display());
        assert!(
            err.contains(&format!("{what}, not a regular file")),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&null)
        .unwrap()
        .file_type()
        .is_char_device());
    assert!(folder.is_dir() && std::fs::read_dir(&folder).unwrap().next().is_none());
    let stale: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| syncsim::output::temp_owner(&e.file_name().to_string_lossy()).is_some())
        .collect();
    assert!(stale.is_empty(), "{stale:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The heavy-tail check depends on the seed, so a seed given on the
/// command line or by a sweep is checked too: the file's own seed (1) is
/// harmless over 1,000 days, seed 51542 draws a mailbox of ~1.7e10 changes.
#[test]
fn a_seed_from_the_command_line_or_a_sweep_is_validated_too() {
    let dir = crate::common::temp_dir("reseed");
    let text = std::fs::read_to_string(format!(
        "{}/tests/bad/spread_tail.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("seed = 51542", "seed = 1");
    let file = dir.join("tail.toml");
    let syncsim = |args: &[&str]| {
        let out = Command::new(bin()).args(args).arg(&file).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), err)
    };
    std::fs::write(&file, &text).unwrap();
    let (code, err) = syncsim(&["validate"]);
    assert_eq!(code, Some(0), "{err}");
    let t0 = std::time::Instant::now();
    let (code, err) = syncsim(&["run", "--seed", "51542"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("with seed 51542") && err.contains("source.spread"),
        "{err}"
    );
    assert!(t0.elapsed().as_secs_f64() < 5.0);
    std::fs::write(&file, text + "\n[sweep]\nseeds = [1, 51542]\n").unwrap();
    let out = dir.join("s").display().to_string();
    for args in [&["validate"][..], &["sweep", "--out", &out][..]] {
        let (code, err) = syncsim(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("with seed 51542"), "{args:?}: {err}");
    }
}
