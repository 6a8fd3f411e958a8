//! The layering rules of ARCHITECTURE.md, checked on the source text: a
//! forbidden `use` fails the build's tests, not a reviewer's memory.

use std::path::Path;

/// The non-test code of every `.rs` file under `dir` (each file cut at its
/// first `#[cfg(test)]`), with its path.
fn code_under(dir: &str) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap().to_string();
                out.push((p.display().to_string(), code));
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir), &mut out);
    out.sort();
    out
}

/// Lines of `code` that mention any of `forbidden` outside comments.
fn offending(code: &str, forbidden: &[&str]) -> Vec<String> {
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .filter(|l| forbidden.iter().any(|f| l.contains(f)))
        .map(|l| l.trim().to_string())
        .collect()
}

fn assert_layer(dir: &str, forbidden: &[&str], rule: &str) {
    let mut broken = Vec::new();
    for (file, code) in code_under(dir) {
        for line in offending(&code, forbidden) {
            broken.push(format!("{file}: {line}"));
        }
    }
    assert!(broken.is_empty(), "{rule}:\n{}", broken.join("\n"));
}

#[test]
fn the_model_imports_neither_the_scenario_layer_nor_a_driver() {
    assert_layer(
        "src/model",
        &[
            "crate::scenario",
            "crate::engine::des",
            "crate::engine::queue",
            "crate::sweep",
            "crate::check",
            "crate::output",
            "crate::live",
            "crate::net",
            "turmoil",
        ],
        "Invariant: `model` imports neither `scenario` nor a driver (ARCHITECTURE.md)",
    );
}

#[test]
fn the_engine_foundations_import_no_model_and_the_scenario_layer_no_driver() {
    for f in ["time.rs", "rng.rs", "sample.rs", "queue.rs", "arena.rs"] {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("src/engine")
                .join(f),
        )
        .unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let bad = offending(code, &["crate::model", "crate::scenario", "super::des"]);
        assert!(bad.is_empty(), "src/engine/{f} is a foundation: {bad:?}");
    }
    assert_layer(
        "src/scenario",
        &[
            "crate::engine::des",
            "crate::engine::queue",
            "crate::sweep",
            "crate::check",
        ],
        "Invariant: `scenario` builds configs and never calls a driver",
    );
}

/// Drivers hold no policy: the event engine and the pair driver reach the
/// model only through the seam (the halves, their messages, the network,
/// the ledger, the run's pieces), never a component inside a half.
#[test]
fn drivers_reach_the_model_only_through_the_seam() {
    let components = [
        "model::source",
        "model::sender",
        "model::receiver",
        "model::poller",
        "model::reconciler",
        "model::replica",
        "model::traffic",
        "model::faults",
        "model::presets",
        "model::ratelimit",
    ];
    for f in ["src/engine/des.rs", "tests/sim/pair.rs"] {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(f)).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let bad = offending(code, &components);
        assert!(
            bad.is_empty(),
            "{f} is a driver, it uses only the seam: {bad:?}"
        );
    }
}

/// The network-mode driver (turmoil) holds no policy and nothing that
/// breaks determinism: no component that decides about mail, no wall
/// clock, no thread, no hashed map; it reaches the scenario layer only
/// through a `RunConfig`.
#[test]
fn the_network_driver_holds_no_policy_and_no_wall_clock() {
    assert_layer(
        "src/net",
        &[
            "model::source",
            "model::sender",
            "model::receiver",
            "model::poller",
            "model::reconciler",
            "model::presets",
            "model::ratelimit",
            "crate::scenario",
            "crate::sweep",
            "SystemTime::now",
            "Instant::now",
            "thread::spawn",
            "HashMap",
            "HashSet",
            "OsRng",
            "getrandom",
            "os_rng",
        ],
        "Invariant: `net` is a driver: time and sockets are turmoil's, every decision the model's",
    );
}

/// The HTTP mapping is sans-IO: drivers own the sockets and the clock.
#[test]
fn the_http_mapping_is_sans_io() {
    assert_layer(
        "src/http",
        &[
            "std::net",
            "tokio",
            "SystemTime",
            "Instant",
            "crate::engine::des",
            "crate::sweep",
            "crate::scenario",
        ],
        "Invariant: `http` maps calls and answers to requests and responses, and does no IO",
    );
}

/// `signing` is a leaf: every driver (live sender, reference consumer,
/// turmoil) may use it, so it uses nothing of theirs, and being sans-IO it
/// reads no clock and no entropy source.
#[test]
fn signing_is_a_sans_io_leaf() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/signing.rs"))
            .unwrap();
    let code = text.split("#[cfg(test)]").next().unwrap();
    let bad = offending(
        code,
        &[
            "crate::",
            "super::",
            "SystemTime",
            "Instant",
            "thread_rng",
            "OsRng",
            "getrandom",
            "std::net",
            "std::fs",
        ],
    );
    assert!(bad.is_empty(), "src/signing.rs is a sans-IO leaf: {bad:?}");
}

/// The checker itself: a forbidden path is found, a comment is not.
#[test]
fn the_layer_check_finds_a_forbidden_use() {
    let code = "use crate::scenario::Dedup;\n// crate::scenario in a comment\nfn f() {}\n";
    assert_eq!(offending(code, &["crate::scenario"]).len(), 1);
}
