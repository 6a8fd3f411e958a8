//! Regressions from the trust review (issue 10): valid scenarios that once
//! panicked or silently computed wrong results.

use crate::common::run;

/// Thin payloads through a 6-hour drop window, 10,000 lognormal-spread
/// mailboxes. Seed 1 used to panic ("a notified message has a visible
/// change"): the event queue popped an event parked in its overflow heap
/// before earlier events of the same one-second bucket, so a delivery
/// could be processed before its change committed. CI runs with debug
/// assertions, so the queue's own order check guards this too.
#[test]
fn thin_payloads_through_a_drop_window_fetch_every_notified_change() {
    for seed in 1..=3 {
        let text = format!(
            r#"
name = "issue-10-panic"
seed = {seed}
horizon = "1d"
drain = "6h"

[source]
mailboxes = 10000
messages_per_day = 50
spread = {{ dist = "lognormal", sigma = 1.0 }}

[webhooks]
preset = "msgraph"

[consumer]
strategy = "webhook"

[[faults]]
kind = "drop"
at = "8h"
for = "6h"
"#
        );
        let r = run(&text);
        let w = r.webhooks.as_ref().expect("webhook section");
        // ~50 changes per mailbox-day (lognormal mean 1): 500,000 with a
        // standard deviation of 500,000 * sqrt((e - 1) / 10,000 + 1 / 500,000)
        // = 6,600 (the mailboxes' multipliers dominate); within 4 sd.
        let n = r.changes.generated as f64;
        assert!((n - 500_000.0).abs() < 26_400.0, "seed {seed}: {n}");
        // The drop window times out every attempt: msgraph retries them,
        // and Graph's slow-endpoint rule (more than 15% of answers slow in
        // 10 minutes) drops new notifications meanwhile (`skipped_disabled`).
        // Every notification is delivered, dropped or abandoned; each
        // delivery costs one fetch that sees the change (or a later one),
        // never "nothing yet"; exactly the undelivered changes are lost
        // (webhooks only, a durable queue, no processing failures).
        assert!(w.failed_attempts > 1_000, "seed {seed}: {w:?}");
        assert!(w.skipped_disabled > 10_000, "seed {seed}: {w:?}");
        assert_eq!(w.notifications, r.changes.generated, "seed {seed}");
        assert_eq!(
            w.delivered + w.skipped_disabled + w.abandoned,
            w.notifications,
            "seed {seed}: {w:?}"
        );
        assert_eq!(r.requests.fetch, w.delivered, "seed {seed}");
        assert_eq!(
            r.changes.lost,
            w.skipped_disabled + w.abandoned,
            "seed {seed}"
        );
        assert_eq!(r.consistency.stale_overwrites, 0, "seed {seed}");
    }
}

/// `run` isolates a crash too: exit 3 (not Rust's 101), the panic's message
/// and place, and a repro line; a normal run of the same file exits 0.
#[test]
fn a_crashing_run_exits_3_with_its_message_and_a_repro_line() {
    use crate::common::{bin, temp_dir};
    let dir = temp_dir("run-crash");
    let file = dir.join("p.toml");
    std::fs::write(
        &file,
        "name = \"p\"\nseed = 5\nhorizon = \"1h\"\n[source]\nmailboxes = 3\nmessages_per_day = 100\n[consumer]\nstrategy = \"poll\"\npoll_interval = \"5m\"\n",
    )
    .unwrap();
    let go = |panic_seed: &str| {
        std::process::Command::new(bin())
            .arg("run")
            .arg(&file)
            .env("SYNCSIM_TEST_PANIC", panic_seed)
            .output()
            .unwrap()
    };
    let out = go("5");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("forced panic in the run of seed 5"), "{err}");
    assert!(err.contains("reproduce with: syncsim run"), "{err}");
    assert!(
        !err.contains("RUST_BACKTRACE"),
        "the default hook stayed quiet: {err}"
    );
    assert_eq!(go("6").status.code(), Some(0));
}
