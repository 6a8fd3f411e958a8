//! The seeds' claims (scenarios/seeds/*.toml) hold: every threshold passes.
//! And a breached threshold makes `syncsim run` exit 1 with a repro line.

use crate::common::{bin, temp_dir};
use std::process::Command;

#[test]
fn every_seed_claim_holds() {
    let dir = format!("{}/scenarios/seeds", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    for f in files {
        let s = syncsim::load(&f).unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.thresholds.is_empty(), "{} encodes no claim", f.display());
        let r = syncsim::run(&s);
        for c in r.check(&s.thresholds) {
            assert!(
                c.pass,
                "{}: {} {} (got {:?})",
                f.display(),
                c.path,
                c.condition,
                c.got
            );
        }
    }
}

#[test]
fn a_breached_threshold_exits_1_and_prints_how_to_reproduce() {
    let dir = temp_dir("breach");
    let file = dir.join("breach.toml");
    let text = std::fs::read_to_string(format!(
        "{}/scenarios/seeds/poll-5min.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    std::fs::write(
        &file,
        text.replace("[\">= 286.6\", \"<= 289.4\"]", "\"< 100\""),
    )
    .unwrap();
    let out = Command::new(bin())
        .arg("run")
        .arg(&file)
        .arg("--seed")
        .arg("5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("FAIL  requests.per_mailbox_day < 100  (got 288)"),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("syncsim run {} --seed 5", file.display())),
        "{stderr}"
    );
}
