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
    // One suite per file, named by its path; the root sums them.
    let root = doc.root_element();
    assert_eq!(
        (root.attribute("tests"), root.attribute("failures")),
        (Some("3"), Some("1"))
    );
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let names: Vec<_> = suites
        .iter()
        .map(|s| s.attribute("name").unwrap())
        .collect();
    assert_eq!(
        names,
        [
            good.display().to_string(),
            bad_threshold.display().to_string()
        ]
    );
    assert_eq!(suites[1].attribute("tests"), Some("1"));
    assert_eq!(suites[1].attribute("failures"), Some("1"));
    // Every case has `file` and a `time`; the suite's time is theirs.
    for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
        let file = case.attribute("file").unwrap();
        assert!(file.ends_with("good.toml") || file.ends_with("breach.toml"));
        let t: f64 = case.attribute("time").unwrap().parse().unwrap();
        assert!(t >= 0.0);
    }
    let suite_time: f64 = suites[1].attribute("time").unwrap().parse().unwrap();
    assert!(suite_time > 0.0, "a run takes some wall time");
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    // Value, threshold and unit: 6 h of 5-minute polling is 288 a day.
    assert_eq!(
        failure.attribute("message"),
        Some("requests.per_mailbox_day = 288 requests/mailbox-day, threshold < 200 requests/mailbox-day")
    );
    assert_eq!(failure.attribute("type"), Some("threshold"));
    // Seed and digest as properties of the case.
    let case = failure.parent().unwrap();
    let prop = |name: &str| {
        case.descendants()
            .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
            .and_then(|n| n.attribute("value"))
            .unwrap()
            .to_string()
    };
    assert_eq!(prop("seed"), "3");
    assert_eq!(prop("digest").len(), 16);
    assert!(
        out.contains(&format!("(digest {})", prop("digest"))),
        "{out}"
    );
    assert!(prop("reproduce").starts_with("syncsim run "));
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
    let outcome = syncsim::check::check(&files, 2, syncsim::sweep::Driver::Des);
    assert_eq!(
        outcome.exit_code(),
        0,
        "{}",
        syncsim::check::render(&outcome)
    );
}

fn check_env(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> (i32, String) {
    let mut c = Command::new(bin());
    c.arg("check")
        .args(args)
        .env_remove(syncsim::sweep::pool::TEST_PANIC_VAR);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

#[test]
fn a_crashing_run_is_an_error_case_and_the_others_still_run() {
    let dir = temp_dir("check-crash");
    // Two points × two seeds (3 and 4); the run of seed 4 at `fast` panics.
    let file = dir.join("sweep.toml");
    std::fs::write(
        &file,
        format!(
            "{PASSING}\n[sweep]\nseeds = 2\n\n[[sweep.variants]]\nname = \"slow\"\n\n[[sweep.variants]]\nname = \"fast\"\n\"consumer.poll_interval\" = \"1m\"\n"
        ),
    )
    .unwrap();
    let junit = dir.join("junit.xml");
    let (code, out) = check_env(
        &[file.as_os_str(), "--junit".as_ref(), junit.as_os_str()],
        &[(syncsim::sweep::pool::TEST_PANIC_VAR, "4:fast")],
    );
    assert_eq!(code, i32::from(syncsim::exit::CRASH), "{out}");
    assert!(
        out.contains("CRASH ok [fast] seed 4: ")
            && out.contains(&format!(
                "reproduce: syncsim run {} --seed 4 --set consumer.poll_interval=1m",
                file.display()
            )),
        "{out}"
    );
    assert!(!out.contains("panicked at"), "{out}");
    // The other three runs were checked: slow passes both conditions on
    // both seeds (4 checks); fast (1440 requests) passes `>= 287` and fails
    // `<= 289` on seed 3.
    assert!(
        out.contains("5 passed, 1 failed, 1 crashed (4 runs, 0 bad files)"),
        "{out}"
    );
    let text = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("JUnit XML parses");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("name"), Some(&*file.display().to_string()));
    assert_eq!(
        (
            suite.attribute("tests"),
            suite.attribute("failures"),
            suite.attribute("errors")
        ),
        (Some("7"), Some("1"), Some("1"))
    );
    let error = doc.descendants().find(|n| n.has_tag_name("error")).unwrap();
    let case = error.parent().unwrap();
    assert_eq!(case.attribute("classname"), Some("ok.fast"));
    assert_eq!(case.attribute("name"), Some("seed 4 runs"));
    assert!(error
        .attribute("message")
        .unwrap()
        .starts_with("run crashed: SYNCSIM_TEST_PANIC hook: forced panic"));
    assert!(error
        .text()
        .unwrap()
        .contains("--seed 4 --set consumer.poll_interval=1m"));
}

#[test]
fn an_unwritable_junit_file_is_an_io_error_not_a_breach() {
    let dir = temp_dir("check-junit-io");
    let good = dir.join("good.toml");
    std::fs::write(&good, PASSING).unwrap();
    // A regular file where a folder should be: not writable, even by root
    // (who could create /nonexistent-dir).
    let blocker = dir.join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let junit = blocker.join("x.xml");
    let (code, out) = check(&[good.as_os_str(), "--junit".as_ref(), junit.as_os_str()]);
    assert_eq!(code, i32::from(syncsim::exit::IO), "{out}");
    assert!(
        out.contains(&format!("cannot write {}", junit.display())),
        "{out}"
    );
    // A folder that does not exist is not created (root could).
    let (code, out) = check(&[
        good.as_os_str(),
        "--junit".as_ref(),
        "/nonexistent-dir/x.xml".as_ref(),
    ]);
    assert_eq!(code, i32::from(syncsim::exit::IO), "{out}");
    assert!(
        out.contains("cannot write /nonexistent-dir/x.xml: no such folder /nonexistent-dir"),
        "{out}"
    );
    assert!(!std::path::Path::new("/nonexistent-dir").exists());
    // A breach plus an unwritable JUnit file: still the IO code (the
    // larger), so CI never reads a missing report as a mere breach.
    let breach = dir.join("breach.toml");
    std::fs::write(
        &breach,
        PASSING.replace("[\">= 287\", \"<= 289\"]", "\"< 200\""),
    )
    .unwrap();
    let (code, out) = check(&[breach.as_os_str(), "--junit".as_ref(), junit.as_os_str()]);
    assert_eq!(code, i32::from(syncsim::exit::IO), "{out}");
}

/// A fault that never fires fails `check` (the run did not test what the
/// scenario says); the same fault that fires passes; a fault that cannot
/// act on the strategy (a webhook outage beside a poller) is not held
/// against it.
#[test]
fn a_fault_that_never_fired_fails_the_check() {
    let dir = temp_dir("check-unfired");
    let hooks = "name = \"f\"\nseed = 3\nhorizon = \"2h\"\n\n[source]\nmailboxes = 20\n\n[webhooks]\npreset = \"svix\"\n\n[consumer]\nstrategy = \"webhook\"\n\n[[faults]]\nkind = \"endpoint_outage\"\nat = \"{AT}\"\nfor = \"10m\"\n\n[thresholds]\n\"changes.generated\" = \"> 0\"\n";
    // 20 mailboxes x 50/day: ~0.7 changes a minute, so a 10-minute
    // outage at 30m meets several attempts; one at 1h59m50s, almost none
    // (10 s of horizon): the window starts in the last instants.
    let fires = dir.join("fires.toml");
    std::fs::write(&fires, hooks.replace("{AT}", "30m")).unwrap();
    let (code, out) = check(&[fires.as_os_str()]);
    assert_eq!(code, 0, "{out}");
    let idle = dir.join("idle.toml");
    let text = hooks
        .replace("{AT}", "1h59m59s")
        .replace("for = \"10m\"", "for = \"1s\"");
    std::fs::write(&idle, text).unwrap();
    let (code, out) = check(&[idle.as_os_str()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("faults.fired.endpoint_outage = 0"), "{out}");
    // A poller beside a webhook fault: not applicable, not flagged (the
    // scenario layer refuses the fault without [webhooks], so use a
    // source outage the webhook consumer never calls the API for).
    let no_api = dir.join("no-api.toml");
    std::fs::write(
        &no_api,
        hooks.replace("{AT}", "30m")
            + "\n[[faults]]\nkind = \"source_outage\"\nat = \"1h\"\nfor = \"5m\"\n",
    )
    .unwrap();
    let (code, out) = check(&[no_api.as_os_str()]);
    assert_eq!(code, 0, "{out}");
}

/// Thresholds as durations (`"< 5m"`) and on any percentile (`p95`),
/// checked against what 5-minute polling gives: lag uniform over the
/// interval (plus ~0.17 s of API latency), so p95 is about 0.95 x 300 s =
/// 285 s; with ~600 changes its sampling error is ~3 s, so 4.6-4.9 min
/// holds and `< 2m` breaks, with the value in minutes in the message.
#[test]
fn duration_thresholds_and_any_percentile() {
    let dir = temp_dir("check-durations");
    let file = dir.join("p95.toml");
    let text = PASSING.replace(
        "\"requests.per_mailbox_day\" = [\">= 287\", \"<= 289\"]",
        "\"latency_ms.all.p95\" = [\"> 4.6m\", \"< 4.9m\"]\n\"latency_ms.all.max\" = \"<= 5m1s\"",
    );
    std::fs::write(&file, &text).unwrap();
    let (code, out) = check(&[file.as_os_str()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 passed, 0 failed"), "{out}");
    // The report carries the asked percentile, in ms, beside the others.
    let s = syncsim::load(&file).unwrap();
    let r = syncsim::run(&s);
    let p95 = r.value("latency_ms.all.p95").unwrap();
    assert!((276_000.0..294_000.0).contains(&p95), "{p95}");
    assert!(r.latency_ms.all.p90.unwrap() < p95 && p95 < r.latency_ms.all.p99.unwrap());
    // Every path carries it (`null` without samples); no other is added.
    assert_eq!(
        r.value("latency_ms.poll.p95"),
        Some(p95),
        "all changes polled"
    );
    assert_eq!(r.value("latency_ms.webhook.p95"), None);
    assert_eq!(r.latency_ms.all.extra.len(), 1);

    let breach = dir.join("breach.toml");
    std::fs::write(
        &breach,
        text.replace("[\"> 4.6m\", \"< 4.9m\"]", "\"< 2m\""),
    )
    .unwrap();
    let (code, out) = check(&[breach.as_os_str()]);
    assert_eq!(code, 1, "{out}");
    let want = format!(
        "latency_ms.all.p95 = {} ({}), threshold < 2 min",
        syncsim::metrics::units::human_ms(p95),
        syncsim::metrics::units::plain(p95)
    );
    assert!(out.contains(&want), "{want}\n{out}");
    assert!(want.contains(" min ("), "{want}");

    // A duration on a count is refused, with the key's position.
    let wrong = dir.join("wrong.toml");
    std::fs::write(
        &wrong,
        PASSING.replace("[\">= 287\", \"<= 289\"]", "\"< 5m\""),
    )
    .unwrap();
    let (code, out) = check(&[wrong.as_os_str()]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("wrong.toml:13:")
            && out.contains("a duration bound needs a path that measures time"),
        "{out}"
    );
}
