//! `syncsim check`: exit codes 0/1/2, JUnit XML that parses, and a printed
//! repro command that reproduces the failing run's digest.

use crate::common::{bin, temp_dir};
use std::process::Command;

fn check(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let o = Command::new(bin())
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

const PASSING: &str = "name = \"ok\"\nseed = 3\nhorizon = \"6h\"\n\n[source]\nmailboxes = 50\n\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"5m\"\n\n[thresholds]\n\"requests.per_mailbox_day\" = [\">= 287\", \"<= 289\"]\n";

#[test]
fn exit_codes_junit_and_repro() {
    let dir = temp_dir("check");
    let good = dir.join("good.toml");
    std::fs::write(&good, PASSING).unwrap();
    let (code, out) = check(&[good.as_os_str()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 passed, 0 failed"), "{out}");

    // A breach: exit 1, JUnit with the failure, and a repro line.
    let bad_threshold = dir.join("breach.toml");
    std::fs::write(
        &bad_threshold,
        PASSING.replace("[\">= 287\", \"<= 289\"]", "\"< 200\""),
    )
    .unwrap();
    let junit = dir.join("junit.xml");
    let (code, out) = check(&[
        good.as_os_str(),
        bad_threshold.as_os_str(),
        "--junit".as_ref(),
        junit.as_os_str(),
    ]);
    assert_eq!(code, 1, "{out}");
    let text = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("JUnit XML parses");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("tests"), Some("3"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert_eq!(failure.attribute("message"), Some("got 288"));

    // The repro line reproduces the failing run, digest and all.
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("reproduce: "))
        .unwrap();
    let digest = out
        .split("digest ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .to_string();
    let args: Vec<&str> = line
        .trim_start()
        .trim_start_matches("reproduce: syncsim ")
        .split_whitespace()
        .collect();
    let o = Command::new(bin())
        .args(&args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["digest"], digest.as_str());
    assert_eq!(o.status.code(), Some(1), "the repro breaches too");

    // Bad input: exit 2, even beside a breach.
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, PASSING.replace("mailboxes = 50", "mailboxes = 0")).unwrap();
    let (code, out) = check(&[bad_threshold.as_os_str(), broken.as_os_str()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("broken.toml:6:"), "{out}");
    let (code, _) = check(&[dir.join("nothing-here").as_os_str()]);
    assert_eq!(code, 2);
}

#[test]
fn the_ci_regression_suite_holds() {
    let dir = format!("{}/scenarios/ci", env!("CARGO_MANIFEST_DIR"));
    let files = syncsim::check::files(&[dir.into()]).unwrap();
    assert!(files.len() >= 5);
    let outcome = syncsim::check::check(&files, 2);
    assert_eq!(
        outcome.exit_code(),
        0,
        "{}",
        syncsim::check::render(&outcome)
    );
}
