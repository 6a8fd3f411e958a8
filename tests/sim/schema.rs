//! The scenario JSON Schema: generated from the types, shipped as
//! `docs/scenario.schema.json` (kept current here), and every bundled
//! scenario validates against it while malformed ones do not. Shell
//! completions name the commands and their flags.

use crate::common::bin;
use std::path::{Path, PathBuf};
use std::process::Command;

const SHIPPED: &str = "docs/scenario.schema.json";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(&syncsim::scenario::schema::scenario_schema()).unwrap();
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

/// Regenerate with `SYNCSIM_BLESS=1 cargo test --profile ci schema`.
#[test]
fn the_shipped_schema_is_the_generated_one() {
    let got = syncsim::scenario::schema::scenario_schema();
    if std::env::var_os("SYNCSIM_BLESS").is_some() {
        std::fs::write(root().join(SHIPPED), &got).unwrap();
    }
    let want = std::fs::read_to_string(root().join(SHIPPED)).unwrap();
    assert!(
        got == want,
        "{SHIPPED} is stale: regenerate with SYNCSIM_BLESS=1"
    );
    let o = Command::new(bin()).arg("schema").output().unwrap();
    assert_eq!(String::from_utf8(o.stdout).unwrap(), got);
}

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            toml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
}

/// As TOML read into JSON values (what taplo validates).
fn as_json(path: &Path) -> serde_json::Value {
    let t: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::to_value(t).unwrap()
}

#[test]
fn every_bundled_scenario_validates_and_bad_ones_do_not() {
    let v = validator();
    let mut files = Vec::new();
    toml_files(&root().join("scenarios"), &mut files);
    assert!(files.len() >= 20, "{files:?}");
    for f in &files {
        let doc = as_json(f);
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
    }
    let good = as_json(&root().join("scenarios/poll-5min.toml"));
    for (path, bad) in [
        ("/consumer/strategy", serde_json::json!("push")),
        ("/source/mailboxes", serde_json::json!(0)),
        ("/horizon", serde_json::json!("5 minutes")),
        ("/source/cursor", serde_json::json!("offset")),
        (
            "/source/mix",
            serde_json::json!({ "created": 0.5, "moved": 0.5 }),
        ),
        ("/consumer/typo_key", serde_json::json!(1)),
        (
            "/thresholds",
            serde_json::json!({ "changes.lost": "about 0" }),
        ),
    ] {
        let mut doc = good.clone();
        let (parent, key) = path.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut doc
        } else {
            doc.pointer_mut(parent).unwrap()
        };
        target[key] = bad.clone();
        assert!(!v.is_valid(&doc), "{path} = {bad} should not validate");
    }
}

#[test]
fn completions_name_commands_and_flags() {
    for shell in ["bash", "zsh", "fish"] {
        let o = Command::new(bin())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(o.status.success());
        let text = String::from_utf8(o.stdout).unwrap();
        for word in ["trace", "lost", "worst", "sweep", "junit", "completions"] {
            assert!(text.contains(word), "{shell}: {word}");
        }
    }
}
